"""Reading a sensitivity analysis back: rankings, the tornado figure and ``sensitivity.html``.

Never imports simpy: it works on the tables :mod:`sim.sensitivity` writes
(``sensitivity_oat.csv``, ``sensitivity_morris.csv``, ``sensitivity.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.stages import OUTCOME_LABELS, outcome_order

OAT_FILE = "sensitivity_oat.csv"
MORRIS_FILE = "sensitivity_morris.csv"
PAGE = "sensitivity.html"
FIGURE = "sensitivity_tornado.png"
ALL = "all"


def oat_swings(oat: pd.DataFrame, community_type: str = ALL) -> pd.DataFrame:
    """Per stage x assumption: the effect at low and high and the larger of their sizes."""
    d = oat[oat["community_type"] == community_type]
    wide = d.pivot_table(index=["stage", "assumption"], columns="side",
                         values=["effect", "ci_low", "ci_high"], aggfunc="first")
    wide.columns = [f"{col[0]}_{col[1]}" for col in wide.columns]
    wide = wide.reset_index()
    wide["swing"] = np.fmax(wide["effect_low"].abs(), wide["effect_high"].abs())
    return wide


def ranking(oat: pd.DataFrame, morris: pd.DataFrame, top: int = 5,
            community_type: str = ALL) -> pd.DataFrame:
    """The ``top`` assumptions per stage by each method (one row per stage x method x rank).

    ``oat``: by the larger |paired effect| of the low and high settings on compliance.
    ``morris``: by mu*, the mean |elementary effect| (compliance per the whole range).
    Ties keep the order of the sources file; an assumption with no effect at all is not
    ranked.
    """
    rows: list[dict[str, Any]] = []
    if not oat.empty:
        sw = oat_swings(oat, community_type)
        order = {a: i for i, a in enumerate(dict.fromkeys(oat["assumption"]))}
        for stage, d in sw.groupby("stage", sort=False):
            d = d[d["swing"] > 0]  # an exact zero (common random numbers) ranks nothing
            d = d.assign(_o=d["assumption"].map(order)).sort_values(
                ["swing", "_o"], ascending=[False, True], kind="stable").head(top)
            for rank, r in enumerate(d.itertuples(), 1):
                rows.append({"stage": stage, "method": "oat", "rank": rank,
                             "assumption": r.assumption, "score": r.swing,
                             "effect_low": r.effect_low, "effect_high": r.effect_high})
    if not morris.empty:
        m = morris[morris["community_type"] == community_type]
        order = {a: i for i, a in enumerate(dict.fromkeys(morris["assumption"]))}
        for stage, d in m.groupby("stage", sort=False):
            d = d[d["mu_star"] > 0]
            d = d.assign(_o=d["assumption"].map(order)).sort_values(
                ["mu_star", "_o"], ascending=[False, True], kind="stable").head(top)
            for rank, r in enumerate(d.itertuples(), 1):
                rows.append({"stage": stage, "method": "morris", "rank": rank,
                             "assumption": r.assumption, "score": r.mu_star,
                             "mu_star_conf": r.mu_star_conf, "sigma": r.sigma})
    cols = ["stage", "method", "rank", "assumption", "score", "effect_low", "effect_high",
            "mu_star_conf", "sigma"]
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["stage", "method", "rank"], key=lambda s: s.map(outcome_order)
                           if s.name == "stage" else s, kind="stable").reset_index(drop=True)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def _pp(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:+.1f}"


def html_section(outdir: str | Path, top: int = 5) -> str:
    """An HTML fragment: settings, the tornado figure and the ranking per stage."""
    from sim.figures.sensitivity import tornado
    from sim.html_report import esc, figure_html, table_html

    out = Path(outdir)
    oat, morris = _read(out / OAT_FILE), _read(out / MORRIS_FILE)
    settings: dict[str, Any] = {}
    if (out / "sensitivity.json").is_file():
        settings = json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))
    parts = ["<h2>Which assumptions matter</h2>"]
    if settings:
        parts.append(
            f"<p>{esc(settings.get('factors'))} assumptions of the presets and schema "
            f"reach scenario <code>{esc(settings.get('scenario'))}</code> "
            f"({esc(settings.get('skipped'))} do not: see sensitivity_skipped.csv). Each "
            f"model run: {esc(settings.get('replications'))} replications of "
            f"{esc(settings.get('horizon_days'))} days (seed {esc(settings.get('seed'))}, "
            "the same replication seeds at every setting, so differences are paired); "
            f"{esc(settings.get('model_runs'))} replications in all.</p>")
    parts.append(
        "<p><em>One at a time</em>: each assumption at the low and the high end of its "
        "range, everything else as shipped; the effect is the paired change in overall "
        "compliance (percentage points) with its 95% CI. <em>Morris</em>: mean absolute "
        "elementary effect μ* (percentage points per full range) over random "
        "trajectories through all ranges at once, ± its bootstrap 95% CI; σ large beside "
        "μ* means the effect depends on the other assumptions. A share of a channel or "
        "category mix is set exactly and the other shares rescaled to sum to 1; an hour "
        "or weekday profile is one assumption, the size of its deviation from flat (0 "
        "flat, 1 as shipped). The assumptions at the top are the data worth collecting "
        "first.</p>")
    if settings.get("morris_left_out"):
        parts.append('<p class="note">No Morris effects for outcomes without requests at '
                     "some point of the design: "
                     f"{esc(', '.join(settings['morris_left_out']))}.</p>")
    if not oat.empty:
        parts.append(figure_html(tornado(oat, top=10), "tornado",
                                 "Change in overall compliance with each assumption at "
                                 "the low (blue) and high (orange) end of its range."))
    rank = ranking(oat, morris, top)
    for stage, d in rank.groupby("stage", sort=False):
        zh, en = OUTCOME_LABELS.get(str(stage), ("", str(stage)))
        parts.append(f"<h3>{esc(f'{zh} {en}'.strip())}</h3>")
        rows = []
        for r in d.to_dict("records"):
            if r["method"] == "oat":
                detail = f"low {_pp(r['effect_low'])}, high {_pp(r['effect_high'])} pp"
            else:
                detail = (f"μ* {100 * r['score']:.1f} ± {100 * r['mu_star_conf']:.1f} pp, "
                          f"σ {100 * r['sigma']:.1f} pp")
            rows.append([esc(r["method"]), str(r["rank"]),
                         f"<code>{esc(r['assumption'])}</code>", esc(detail)])
        parts.append(table_html(["method", "rank", "assumption", "effect"], rows, [1]))
    return "\n".join(parts)


def write_page(outdir: str | Path, top: int = 5) -> Path:
    """Write ``OUTDIR/sensitivity.html`` (the section as a page) and the tornado PNG."""
    from sim.figures.sensitivity import tornado
    from sim.html_report import CSS, esc
    from sim.io import atomic_write_text

    out = Path(outdir)
    oat = _read(out / OAT_FILE)
    if not oat.empty:
        tornado(oat, top=10).savefig(out / FIGURE, dpi=110)
    name = ""
    if (out / "sensitivity.json").is_file():
        name = json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))["scenario"]
    title = f"{name}: which assumptions matter"
    page = ('<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body><main>\n"
            f"<h1>{esc(title)}</h1>\n{html_section(out, top)}\n</main></body>\n</html>\n")
    path = out / PAGE
    atomic_write_text(path, page)
    return path


__all__ = ["FIGURE", "MORRIS_FILE", "OAT_FILE", "PAGE", "html_section", "oat_swings",
           "ranking", "write_page"]
