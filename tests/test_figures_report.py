"""Figures (sim.figures) and the self-contained HTML report (sim.html_report, `sim report`).

The figures are checked structurally (titles, labels, one artist per group) on a small
run.  Labels are bilingual when a CJK font is installed and English otherwise (the
documented fallback): the tests expect whichever :func:`sim.figures.cjk_font` decided, and
``SIM_CJK_FONT=0`` forces the fallback on a machine that has the font (``.ci/run`` runs
these tests both ways).  The report is opened in headless Chromium (through Playwright)
to check that it loads offline with every image decoded and nothing logged as an error;
without a Chromium that test skips, saying why.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.text import Text

import sim
from sim import figures
from sim.experiment import ExperimentResult, replicate

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / (
    "six_types.yaml" if (ROOT / "scenarios" / "six_types.yaml").exists() else "quanxueli.yaml")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def exp() -> ExperimentResult:
    sc = sim.load_scenario(SCENARIO)
    sc = sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": 7})})
    return replicate(sc, replications=2)


@pytest.fixture(scope="module")
def n_types(exp: ExperimentResult) -> int:
    return int(exp.measured["community_type"].nunique())


def chromium() -> Path | None:
    """A Chromium executable: ``$SIM_CHROMIUM``, or the first of the usual names on PATH."""
    env = os.environ.get("SIM_CHROMIUM")
    if env:
        return Path(env)
    found = next((p for n in CHROMIUM_NAMES if (p := shutil.which(n))), None)
    return Path(found) if found else None


def zh(chinese: str, english: str) -> str:
    """The label the figures should show: both languages with a CJK font, else English."""
    return f"{chinese} {english}" if figures.cjk_font() else english


def in_ci_with_font() -> bool:
    """CI installs the font: there, a missing font is a failure, not the fallback."""
    return bool(os.environ.get("CI")) and os.environ.get("SIM_CJK_FONT", "") != "0"


def visible_axes(fig: Figure) -> list[Any]:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def assert_labelled(fig: Figure) -> None:
    """A figure title (or axes titles), and x and y labels with units or what is counted."""
    sup = fig.get_suptitle()
    axes = visible_axes(fig)
    assert axes
    assert sup or all(ax.get_title() for ax in axes)
    assert any(ax.get_xlabel() for ax in axes)
    assert any(ax.get_ylabel() for ax in axes)


def render_warnings(fig: Figure) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(BytesIO(), format="png")
    return [str(w.message) for w in caught]


# --------------------------------------------------------------------------- figures
def test_compliance_by_type_has_one_bar_and_error_bar_per_type(
    exp: ExperimentResult, n_types: int
) -> None:
    fig = figures.compliance_by_type(exp)
    assert_labelled(fig)
    assert "community type" in fig.get_suptitle()
    axes = visible_axes(fig)
    assert [ax.get_title().split("\n")[0].split()[-1] for ax in axes] == [
        "respond", "site", "finish", "plan", "met"]
    for ax in axes:
        assert "%" in ax.get_xlabel()
        (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
        assert len(bars.patches) == n_types
        assert bars.errorbar is not None
        segments = bars.errorbar.lines[2][0].get_segments()
        assert len(segments) == n_types
    names = [t.get_text() for t in axes[0].get_yticklabels()]
    assert len(names) == n_types
    assert any(zh("新建商品房小区", "new commercial estate") in n for n in names)
    assert not render_warnings(fig)


def test_stage_cdf_has_a_curve_and_a_crossing_per_type(
    exp: ExperimentResult, n_types: int
) -> None:
    fig = figures.stage_cdf(exp)
    assert_labelled(fig)
    axes = visible_axes(fig)
    assert len(axes) == 4
    for ax in axes:
        assert ax.get_xscale() == "log"
        assert "time from arrival" in ax.get_xlabel()
        assert "%" in ax.get_ylabel()
        lines = ax.get_lines()
        steps = [ln for ln in lines if ln.get_drawstyle() == "steps-post"]
        markers = [ln for ln in lines if ln.get_marker() == "o"]
        targets = [ln for ln in lines if ln.get_linestyle() == "--"]
        assert len(steps) == n_types
        assert len(markers) == n_types
        assert len(targets) == 1
        assert any(t.get_text().startswith("target") for t in ax.texts)
    if n_types > 1:
        assert len(fig.legends[0].get_texts()) == n_types


def test_compliance_by_hour_has_a_line_and_band_per_stage(exp: ExperimentResult) -> None:
    fig = figures.compliance_by_hour(exp)
    assert_labelled(fig)
    axes = visible_axes(fig)
    assert len(axes) == 6  # joint, four stages, requests per hour
    for ax in axes[:5]:
        assert len(ax.get_lines()) == 1
        assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 1
        assert "%" in ax.get_ylabel()
    assert len(axes[-1].patches) == 24
    assert "per day" in axes[-1].get_ylabel()
    assert "hour" in axes[-1].get_xlabel()


def image_axes(fig: Figure) -> list[tuple[Any, AxesImage]]:
    return [(ax, im) for ax in visible_axes(fig)
            for im in ax.get_children() if isinstance(im, AxesImage)]


def test_utilisation_heatmap_rows_are_pools_or_specs(exp: ExperimentResult) -> None:
    pools = exp.pools.loc[exp.pools["replication"] == 0]
    fig = figures.utilisation_heatmap(exp)
    assert_labelled(fig)
    ((ax, im), *_) = image_axes(fig)
    assert im.get_array().shape == (len(pools), 24)
    assert len(ax.get_yticklabels()) == len(pools)
    assert "off duty" in ax.get_title()
    assert any("%" in a.get_ylabel() for a in fig.axes)  # the colour bar says what it means
    # hundreds of pools (the zone): one row per pool spec instead
    fig = figures.utilisation_heatmap(exp, max_rows=3)
    ((ax, im), *_) = image_axes(fig)
    assert im.get_array().shape == (pools["spec"].nunique(), 24)
    assert "mean over pools" in ax.get_title()


def hand_load() -> pd.DataFrame:
    """One pool, two replications, rostered 08-18; the staff stay on a job until 20:00.

    Busy 30 of 60 rostered minutes an hour on shift; 20:00-21:00 nobody is rostered but
    one person works 45 minutes of overtime (replication 0) or 15 (replication 1).
    """
    rows = []
    for rep, ot in ((0, 45.0), (1, 15.0)):
        for h in range(24):
            on_shift = 8 <= h < 18
            overtime = ot if h == 20 else 0.0
            rows.append({"replication": rep, "pool": "tech@A", "kind": "technician",
                         "scope": "community", "hour": h, "observed_min": 60.0,
                         "busy_min": (30.0 if on_shift else 0.0) + overtime,
                         "on_duty_min": (60.0 if on_shift else 0.0) + overtime,
                         "queue_min": 0.0, "rostered_min": 60.0 if on_shift else 0.0,
                         "overtime_min": overtime})
    return pd.DataFrame(rows)


def hand_experiment(exp: ExperimentResult, load: pd.DataFrame) -> ExperimentResult:
    pools = pd.DataFrame({"replication": [0, 1], "pool": "tech@A", "spec": "tech",
                          "kind": "technician", "scope": "community"})
    return ExperimentResult(exp.scenario, exp.seed, exp.requests, pools, load, exp.backlog)


def test_utilisation_is_of_rostered_staff_and_overtime_is_separate(
    exp: ExperimentResult,
) -> None:
    hand = hand_experiment(exp, hand_load())
    util = hand.utilisation().set_index("hour")
    assert util.loc["10", "utilisation"] == pytest.approx(0.5)
    assert np.isnan(util.loc["20", "utilisation"])  # off duty, not 100 % busy
    assert np.isnan(util.loc["3", "utilisation"])
    assert util.loc["20", "overtime"] == pytest.approx(0.5)  # (45 + 15) / 2 / 60 people
    assert util.loc["10", "overtime"] == 0.0
    # over the day: 300 busy rostered minutes of 600 rostered
    assert util.loc["all", "utilisation"] == pytest.approx(0.5)
    assert util.loc["all", "overtime"] == pytest.approx(30.0 / 1440)
    # a run saved before the rostered/overtime columns existed: the old ratio
    old = hand_experiment(exp, hand_load().drop(columns=["rostered_min", "overtime_min"]))
    util = old.utilisation().set_index("hour")
    assert util.loc["20", "utilisation"] == pytest.approx(1.0)
    assert util["overtime"].isna().all()


def test_heatmap_shows_off_duty_hours_as_off_duty_and_overtime_beside(
    exp: ExperimentResult,
) -> None:
    fig = figures.utilisation_heatmap(hand_experiment(exp, hand_load()))
    assert_labelled(fig)
    (util_ax, util_im), (ot_ax, ot_im) = image_axes(fig)
    cells = util_im.get_array()
    assert np.ma.is_masked(cells[0, 20]) and np.ma.is_masked(cells[0, 3])  # grey
    assert cells[0, 10] == pytest.approx(0.5)
    assert "off duty" in util_ax.get_title()
    assert "overtime" in ot_ax.get_title().lower()
    overtime = ot_im.get_array()
    assert overtime[0, 20] == pytest.approx(30.0)  # staff-minutes in that hour, per day
    assert overtime[0, 10] == 0.0
    # without the columns (an older run): one panel, nothing claimed about overtime
    old = hand_experiment(exp, hand_load().drop(columns=["rostered_min", "overtime_min"]))
    assert len(image_axes(figures.utilisation_heatmap(old))) == 1


def test_backlog_has_a_line_per_staff_kind(exp: ExperimentResult) -> None:
    fig = figures.backlog_over_time(exp)
    assert_labelled(fig)
    (ax,) = visible_axes(fig)
    assert len(ax.get_lines()) == exp.backlog["kind"].nunique()
    assert "days" in ax.get_xlabel()
    assert "waiting" in ax.get_ylabel()


def test_cjk_labels_render_without_missing_glyphs(exp: ExperimentResult) -> None:
    """With a CJK font: Chinese labels drawn with real glyphs; without: English ones."""
    if in_ci_with_font():
        assert figures.cjk_font(), "no CJK font found: .ci/run installs fonts-wqy-microhei"
    fig = figures.compliance_by_category(exp)
    labels = [t.get_text() for t in visible_axes(fig)[0].get_yticklabels()]
    assert zh("电梯故障", "lift fault") in labels
    missing = [w for w in render_warnings(fig) if "missing from font" in w]
    assert not missing, missing[:3]


def has_chinese(fig: Figure) -> list[str]:
    texts = [t.get_text() for t in fig.findobj(Text)]
    return [t for t in texts if re.search(r"[\u4e00-\u9fff]", t)]


def test_without_a_cjk_font_labels_fall_back_to_english(
    exp: ExperimentResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_CJK_FONT", "0")  # as on a machine without the font
    assert figures.cjk_font() is None
    fig = figures.compliance_by_category(exp)
    labels = [t.get_text() for t in visible_axes(fig)[0].get_yticklabels()]
    assert "lift fault" in labels
    assert not has_chinese(fig)
    assert not [w for w in render_warnings(fig) if "missing from font" in w]
    # Chinese that no label table knows (a name in the scenario) is stripped too
    table = exp.compliance("community_type")
    group = str(table["group"].iloc[0])
    fig = figures.plot_compliance(table, {group: "泉学里 Quanxueli"}, title="劝学里 estate")
    labels = [t.get_text() for t in visible_axes(fig)[0].get_yticklabels()]
    assert "Quanxueli" in labels
    assert "estate" in fig.get_suptitle()
    assert not has_chinese(fig)


# --------------------------------------------------------------------------- HTML report
def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, encoding="utf-8", errors="replace",
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    proc = run_cli("run", SCENARIO, "-o", out, "--replications", "2", "--report")
    assert proc.returncode == 0, proc.stderr
    path = out / "report.html"
    assert path.is_file()
    assert f"Report: {path}" in " ".join(proc.stdout.split())
    return path


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "url(" not in text  # no fonts or images pulled by CSS
    srcs = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", text)
    assert len(srcs) == len(re.findall(r"<img\b", text)) >= 5
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    for needed in ("电梯故障 lift fault", "全部达标 all met", "Staff pools", "censored",
                   "±", "p50", "p95"):
        assert needed in text


def test_report_loads_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    browser_path = chromium()
    if browser_path is None or not browser_path.exists():
        if os.environ.get("CI"):
            pytest.fail("no Chromium in CI: .ci/run should install the chromium package")
        pytest.skip("no Chromium browser found (install the `chromium` package or set "
                    "SIM_CHROMIUM=/path/to/chrome); the report's HTML is still checked by "
                    "the other tests")
    if os.environ.get("CI"):
        import playwright.sync_api as sync_api  # a missing install fails in CI
    else:
        sync_api = pytest.importorskip("playwright.sync_api",
                                       reason="the playwright package is not installed")
    errors: list[str] = []
    remote: list[str] = []
    shot = tmp_path / "shot.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(browser_path), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
            page.route(re.compile(r"^(https?|wss?|ftp)://"),
                       lambda route: (remote.append(route.request.url), route.abort()))
            page.goto(report.as_uri(), wait_until="load")
            state = page.evaluate("""() => ({
                charset: document.characterSet,
                images: Array.from(document.images).map(
                    i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0),
                text: document.body.innerText,
            })""")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert not remote, remote
    assert state["charset"] == "UTF-8"
    assert len(state["images"]) >= 5 and all(state["images"]), state["images"]
    assert "电梯故障" in state["text"]
    from PIL import Image

    with Image.open(shot) as im:
        width, height = im.size
        colours = im.convert("RGB").resize((width // 4, height // 4)).getcolors(1 << 20)
    assert width == 1280 and height > 3000  # the whole page: tables and six figures
    assert colours is not None and len(colours) > 100  # not a blank page
    keep = os.environ.get("SIM_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


@pytest.mark.parametrize("kind", ["empty dir", "missing", "file", "no parts"])
def test_report_on_a_non_run_directory_is_one_line_exit_2(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x"
    if kind == "empty dir":
        target.mkdir()
    elif kind == "file":
        target.write_text("not a run\n")
    elif kind == "no parts":
        target.mkdir()
        shutil.copy(SCENARIO, target / "scenario.resolved.yaml")
    proc = run_cli("report", target)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and str(target) in lines[0]
    assert not (target / "report.html").exists() if target.is_dir() else True
