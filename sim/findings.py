"""Findings of a run, in words computed from its results: which stage fails, when, for whom.

:func:`findings` reads an :class:`sim.results.ExperimentResult` and returns a few
sentences: the stage with the lowest compliance; the community type worst at it; the band
of hours where its misses concentrate (:func:`sim.binding.failing_hours`, against that
type's own mean) and compliance inside and outside the band; the category with the most
misses; staff kinds off duty in that band (:func:`sim.binding.uncovered`); and the
community with the lowest joint compliance.  Every number and name comes from the
results, so the text changes when they do.  Never imports simpy.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from sim.binding import failing_hours, hours_text, uncovered
from sim.stages import JOINT, OUTCOME_LABELS, STAGE_TABLE

if TYPE_CHECKING:
    from sim.results import ExperimentResult


def _label(stage: str) -> str:
    return OUTCOME_LABELS[stage][1]


def worst_communities(exp: ExperimentResult, n: int = 10) -> pd.DataFrame:
    """The ``n`` communities with the lowest mean joint compliance (first rule):
    ``community, community_type, street, mean, ci_low, ci_high, requests``."""
    c = exp.compliance("community")
    c = c[c["stage"] == JOINT]
    info = exp.measured.drop_duplicates("community").set_index("community")[
        ["community_type", "street"]].astype(str)
    c = c.merge(info, left_on="group", right_index=True, how="left")
    c = c.rename(columns={"group": "community"}).sort_values(["mean", "community"])
    return c[["community", "community_type", "street", "mean", "ci_low", "ci_high",
              "requests"]].head(n).reset_index(drop=True)


def _hourly(exp: ExperimentResult, community_type: str) -> pd.DataFrame:
    """Compliance per hour of arrival for one community type (``all``: every type)."""
    if community_type == "all":
        t = exp.compliance("hour")
    else:
        mine = exp.requests["community_type"].astype(str) == community_type
        t = replace(exp, requests=exp.requests[mine], _outcomes={}).compliance("hour")
    return t.rename(columns={"mean": "compliance"}).assign(community_type=community_type)


def findings(exp: ExperimentResult) -> list[str]:
    """A few sentences on what fails, when and for whom (first SLA rule)."""
    rule = exp.rule()
    targets = {s.name: getattr(rule, s.sla_field) for s in STAGE_TABLE
               if getattr(rule, s.sla_field) is not None}
    overall = exp.compliance(None)
    overall = overall[overall["stage"].isin(list(targets))]
    if overall.empty:
        return ["No request reached a stage with a target after the warm-up, so there is "
                "nothing to find."]
    weakest = overall.sort_values(["mean", "stage"]).iloc[0]
    stage = str(weakest["stage"])
    lines = [f"The weakest stage is {_label(stage)}: {100 * weakest['mean']:.1f}% of requests "
             f"met its {targets[stage]:g}-minute target ({len(overall)} stage"
             f"{'s' * (len(overall) != 1)} with a target)."]
    by_type = exp.compliance("community_type")
    by_type = by_type[by_type["stage"] == stage].sort_values(["mean", "group"])
    who = "all"
    if len(by_type) > 1:
        w = by_type.iloc[0]
        who = str(w["group"])
        best = by_type.iloc[-1]
        lines.append(f"It is lowest in {who} communities ({100 * w['mean']:.1f}%, against "
                     f"{100 * best['mean']:.1f}% in {best['group']}).")
    elif len(by_type) == 1:
        who = str(by_type.iloc[0]["group"])
    hourly = _hourly(exp, who)
    own = float(by_type.iloc[0]["mean"]) if len(by_type) else float(weakest["mean"])
    band = failing_hours(hourly, who, stage, own)
    if band:
        h = hourly[hourly["stage"] == stage]
        inside = h["group"].astype(int).isin(band)
        met = h["compliance"] * h["requests"]
        share_in = met[inside].sum() / max(h.loc[inside, "requests"].sum(), 1)
        share_out = met[~inside].sum() / max(h.loc[~inside, "requests"].sum(), 1)
        lines.append(f"Its misses concentrate {hours_text(band)}: {100 * share_in:.1f}% of "
                     f"requests raised then met it, against {100 * share_out:.1f}% at other "
                     "hours.")
        for names, kinds, off in uncovered(exp.scenario, who, stage, band):
            lines.append(f"No staff kind that handles {', '.join(names)} "
                         f"({' or '.join(kinds)}) is on duty {hours_text(off)}.")
    cats = exp.compliance("category")
    cats = cats[cats["stage"] == stage].assign(
        misses=lambda d: (1 - d["mean"]) * d["requests"]).sort_values(
        ["misses", "group"], ascending=[False, True])
    total = float(cats["misses"].sum())
    if total > 0:
        top = cats.iloc[0]
        lines.append(f"{top['group']} requests account for {100 * top['misses'] / total:.0f}% "
                     f"of its misses ({100 * top['mean']:.1f}% met).")
    worst = worst_communities(exp, 1)
    if len(worst):
        w = worst.iloc[0]
        lines.append(f"The community with the lowest joint compliance is {w['community']} "
                     f"({w['community_type']}, {w['street']}): {100 * w['mean']:.1f}%.")
    return lines


__all__ = ["findings", "worst_communities"]
