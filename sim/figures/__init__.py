"""Matplotlib figures of runs and of staffing research.

Never imports simpy: every function takes results (or the DataFrames they hold) and
returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing is registered
globally and figures render with Agg anywhere (scripts, the HTML report, notebooks).

* :mod:`sim.figures.run` -- a run: compliance by type/category/hour, stage-time CDFs,
  utilisation heatmap, backlog;
* :mod:`sim.figures.research` -- sweeps and the optimiser: compliance vs headcount,
  two-lever heatmap, cost-compliance frontier;
* :mod:`sim.figures.style` -- labels (bilingual where a CJK font exists) and the look.
"""

from sim.figures.research import (
    compliance_vs_headcount,
    joint_heatmap,
    lever_label,
    lever_short,
    optimiser_frontier,
)
from sim.figures.run import (
    backlog_over_time,
    compliance_by_category,
    compliance_by_hour,
    compliance_by_type,
    plot_backlog,
    plot_compliance,
    plot_hourly_compliance,
    plot_stage_cdf,
    plot_utilisation,
    report_figures,
    stage_cdf,
    stage_times_by_group,
    utilisation_heatmap,
)
from sim.figures.sensitivity import tornado
from sim.figures.style import (
    bilingual,
    category_labels,
    cjk_font,
    fmt_minutes,
    kind_label,
    plain,
    stage_label,
    type_labels,
)

__all__ = [
    "backlog_over_time",
    "bilingual",
    "category_labels",
    "cjk_font",
    "compliance_by_category",
    "compliance_by_hour",
    "compliance_by_type",
    "compliance_vs_headcount",
    "fmt_minutes",
    "joint_heatmap",
    "kind_label",
    "lever_label",
    "lever_short",
    "optimiser_frontier",
    "plain",
    "plot_backlog",
    "plot_compliance",
    "plot_hourly_compliance",
    "plot_stage_cdf",
    "plot_utilisation",
    "report_figures",
    "stage_cdf",
    "stage_label",
    "stage_times_by_group",
    "tornado",
    "type_labels",
    "utilisation_heatmap",
]
