"""Figures of sweeps and the optimiser (sim.figures): checked structurally on tiny runs.

A 2 x 2 sweep of the Quanxueli technicians (day shift x night on-call, 7 days, 3
replications) and a one-lever optimisation with loose targets; each figure must have a
title, labelled axes and one artist per line, cell or point.  That sim.figures does not
import simpy is checked in test_results.py.  Labels are bilingual with a CJK font and
English without (``zh``), as in test_figures_report.py.
"""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

import sim
from sim import figures
from sim.optimiser import OptimizeResult
from sim.sweeps import SweepResult

ROOT = Path(__file__).resolve().parents[1]
DAY = "staff.technicians.day"
NIGHT = "staff.technicians.night on-call"  # a shift name with a space is a valid lever


def zh(chinese: str, english: str) -> str:
    """The label the figures should show: both languages with a CJK font, else English."""
    return f"{chinese} {english}" if figures.cjk_font() else english


@pytest.fixture(scope="module")
def scenario() -> sim.Scenario:
    # staff do nothing but requests: the targets below are reachable within the lever range
    sc = sim.load_scenario(ROOT / "scenarios" / "quanxueli_requests_only.yaml")
    return sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": 7})})


@pytest.fixture(scope="module")
def swept(scenario: sim.Scenario) -> SweepResult:
    return sim.sweep(scenario, {DAY: [2, 3], NIGHT: [1, 0]}, replications=3, jobs=1)


@pytest.fixture(scope="module")
def optimised(scenario: sim.Scenario) -> OptimizeResult:
    return sim.optimize(scenario, {DAY: range(1, 5)}, {"onsite": 0.5, "finish": 0.7},
                        replications=3, jobs=1)


def visible_axes(fig: Figure) -> list[Any]:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def assert_labelled(fig: Figure) -> None:
    axes = visible_axes(fig)
    assert axes
    assert fig.get_suptitle() or all(ax.get_title() for ax in axes)
    assert all(ax.get_xlabel() for ax in axes)
    assert axes[0].get_ylabel()


def assert_renders_cleanly(fig: Figure) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(BytesIO(), format="png")
    assert not [str(w.message) for w in caught]


def data_lines(ax: Any) -> list[Any]:
    return [ln for ln in ax.get_lines() if ln.get_marker() == "o"]


def bands(ax: Any) -> list[Any]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


# --------------------------------------------------------------------------- compliance vs lever
def test_compliance_vs_headcount_facets_the_other_lever(swept: SweepResult) -> None:
    fig = figures.compliance_vs_headcount(swept, DAY, stage="onsite", target=0.8)
    assert_labelled(fig)
    title = fig.get_suptitle()
    assert zh("处置", "on site") in title and "technicians day" in title and "95% CI" in title
    axes = visible_axes(fig)
    assert len(axes) == 2  # one panel per night on-call headcount, in the sweep's order
    assert [ax.get_title() for ax in axes] == ["technicians night on-call = 1",
                                               "technicians night on-call = 0"]
    for ax in axes:
        (line,) = data_lines(ax)  # one community type: one line
        assert list(line.get_xdata()) == [2, 3]
        assert len(bands(ax)) == 1
        (target,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert list(target.get_ydata()) == [0.8, 0.8]
        assert "people on duty" in ax.get_xlabel()
    assert "%" in axes[0].get_ylabel()
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(zh("新建商品房小区", "new commercial estate") in n for n in names)
    assert "target 80%" in names
    assert_renders_cleanly(fig)


def test_compliance_vs_headcount_fixes_other_levers_beyond_max_facets(
    swept: SweepResult,
) -> None:
    fig = figures.compliance_vs_headcount(swept, DAY, max_facets=1)
    (ax,) = visible_axes(fig)
    assert len(data_lines(ax)) == 1
    assert not [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]  # no target
    title = fig.get_suptitle().replace("\n", " ")
    assert "fixed at their first value: technicians night on-call = 1" in title
    assert zh("全部达标", "all met") in title  # the default stage: every target


def test_compliance_vs_headcount_one_line_per_type_without_all(swept: SweepResult) -> None:
    # a second community type (a copy of the first): "all" is left out, one line each
    tidy = swept.tidy
    other = tidy[tidy["community_type"] == "new_estate"].assign(community_type="old_estate")
    two = SweepResult([DAY], pd.concat([tidy, other])[lambda d: d[NIGHT] == 1]
                      .drop(columns=NIGHT), swept.replications_run)
    fig = figures.compliance_vs_headcount(two, DAY, target=0.7)
    (ax,) = visible_axes(fig)
    assert len(data_lines(ax)) == 2
    assert len(bands(ax)) == 2
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert names[:2] == [zh("新建商品房小区", "new commercial estate"),
                         zh("老旧小区", "old estate")]
    assert "fixed" not in fig.get_suptitle()


def test_compliance_vs_headcount_rejects_unknown_lever(swept: SweepResult) -> None:
    with pytest.raises(ValueError, match="not a lever"):
        figures.compliance_vs_headcount(swept, "staff.desk.day")
    with pytest.raises(ValueError, match="no stage"):
        figures.compliance_vs_headcount(swept, DAY, stage="resolve")


# --------------------------------------------------------------------------- heatmap
def test_joint_heatmap_has_an_annotated_cell_per_combination(swept: SweepResult) -> None:
    fig = figures.joint_heatmap(swept, DAY, NIGHT, community_type="new_estate")
    assert_labelled(fig)
    (ax,) = visible_axes(fig)
    (im,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert im.get_array().shape == (2, 2)  # rows: night on-call 0, 1; columns: day 2, 3
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "3"]
    cells = [t.get_text() for t in ax.texts]
    assert len(cells) == 4
    assert all("%" in c and "pts" in c for c in cells)
    s = swept.summary
    mean = s[(s["community_type"] == "new_estate") & (s["stage"] == "joint")
             & (s[DAY] == 3) & (s[NIGHT] == 1)]["mean"].item()
    assert cells[3].startswith(f"{100 * mean:.0f}%")  # top right: 3 day, 1 on call
    assert "people on duty" in ax.get_xlabel() and "night on-call" in ax.get_ylabel()
    assert "%" in fig.axes[-1].get_ylabel()  # the colour bar
    assert zh("新建商品房小区", "new commercial estate") in ax.get_title()
    assert_renders_cleanly(fig)


def test_joint_heatmap_rejects_bad_arguments(swept: SweepResult) -> None:
    with pytest.raises(ValueError, match="no community type"):
        figures.joint_heatmap(swept, DAY, NIGHT, community_type="village")
    with pytest.raises(ValueError, match="must differ"):
        figures.joint_heatmap(swept, DAY, DAY)


# --------------------------------------------------------------------------- optimiser
def test_optimiser_frontier_marks_every_point_and_the_choice(optimised: OptimizeResult) -> None:
    frontier = optimised.frontier()
    assert optimised.best is not None and optimised.confirmed
    assert frontier["feasible"].any() and not frontier["feasible"].all()
    fig = figures.optimiser_frontier(optimised)
    assert_labelled(fig)
    (ax,) = visible_axes(fig)
    scatters = {c.get_gid(): c for c in ax.collections if isinstance(c, PathCollection)}
    assert len(scatters["feasible"].get_offsets()) == frontier["feasible"].sum()
    assert len(scatters["infeasible"].get_offsets()) == (~frontier["feasible"]).sum()
    (chosen,) = scatters["chosen"].get_offsets()
    assert chosen[0] == optimised.best.cost
    (pareto,) = [ln for ln in ax.get_lines() if ln.get_gid() == "pareto"]
    assert len(pareto.get_xdata()) == frontier["pareto"].sum()
    (zero,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert list(zero.get_ydata()) == [0, 0]
    assert len(ax.texts) == len(frontier)  # each point labelled with its lever values
    assert "weekly staff cost" in ax.get_xlabel()
    assert "percentage points" in ax.get_ylabel()
    title = ax.get_title().replace("\n", " ")
    assert f"technicians day = {optimised.best.values[0]}" in title
    assert "confirmed" in title
    assert_renders_cleanly(fig)
