"""The 2341 stages: one table that every layer reads.

The seed report states the rule as "20分钟响应、30分钟处置、4小时办结、1天出方案"; each of
those four targets is a :class:`Stage` here.  ``joint`` (every applicable target met) is
an outcome, not a stage, and is listed in :data:`OUTCOMES` after them.

This module imports nothing from the package, so the engine, the SLA arithmetic, the
results, the figures, the HTML report and the command line can all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Stage:
    """One stage of a request's life that an SLA rule can set a target for.

    Attributes
    ----------
    name:
        Short name used in tables, lever paths and command-line options.
    column:
        Column of the request records holding the minute the stage was reached.
    sla_field:
        Field of :class:`sim.config.SlaRule` holding the stage's target in minutes.
    staff_field:
        Field of :class:`sim.config.Category` listing the staff kinds (tier order) that
        serve the stage, or ``None`` when no staff serve it (finishing follows on-site work
        or a plan).
    engine_index:
        Index of the stage in the engine's per-stage arrays, or ``None`` when the engine
        has no queue for it.
    label_zh, label_en:
        Labels for reports and figures (the Chinese words are the seed report's).
    applies_to:
        Which requests of a category the stage measures: ``all`` requests, only those
        with ``site`` work (a non-empty ``onsite_by``), only ``routine`` (not complex)
        ones, or only ``complex`` ones.
    color:
        Colour used for the stage in figures.
    """

    name: str
    column: str
    sla_field: str
    staff_field: str | None
    engine_index: int | None
    label_zh: str
    label_en: str
    applies_to: str
    color: str

    @property
    def pool_column(self) -> str:
        """Column of the request records naming the pool that served the stage (for
        stages the engine queues; :class:`ValueError` for the others)."""
        if self.engine_index is None:
            raise ValueError(f"no staff serve stage {self.name}")
        return f"{self.name}_pool"


RESPOND: Final = Stage("respond", "responded_min", "respond_min", "respond_by", 0,
                       "响应", "respond", "all", "#1f77b4")
ONSITE: Final = Stage("onsite", "onsite_min", "onsite_min", "onsite_by", 1,
                      "处置", "on site", "site", "#ff7f0e")
FINISH: Final = Stage("finish", "finished_min", "finish_min", None, None,
                      "办结", "finish", "routine", "#2ca02c")
PLAN: Final = Stage("plan", "plan_min", "plan_min", "plan_by", 2,
                    "出方案", "plan", "complex", "#9467bd")

STAGE_TABLE: Final[tuple[Stage, ...]] = (RESPOND, ONSITE, FINISH, PLAN)
"""The four stages, in the order of the rule's name (2-3-4-1 is respond, on site,
finish, plan)."""

BY_NAME: Final[dict[str, Stage]] = {s.name: s for s in STAGE_TABLE}
STAGES: Final[tuple[str, ...]] = tuple(s.name for s in STAGE_TABLE)
STAGE_COLUMNS: Final[dict[str, str]] = {s.name: s.column for s in STAGE_TABLE}
QUEUED_STAGES: Final[tuple[Stage, ...]] = tuple(
    sorted((s for s in STAGE_TABLE if s.engine_index is not None),
           key=lambda s: s.engine_index or 0)
)
"""Stages the engine queues for staff, in engine-index order (respond, on site, plan)."""

JOINT: Final = "joint"
OUTCOMES: Final[tuple[str, ...]] = (*STAGES, JOINT)
"""Outcomes reported in compliance tables: each stage, then ``joint``."""

OUTCOME_LABELS: Final[dict[str, tuple[str, str]]] = {
    **{s.name: (s.label_zh, s.label_en) for s in STAGE_TABLE},
    JOINT: ("全部达标", "all met"),
}
"""(Chinese, English) label of every outcome."""

OUTCOME_COLORS: Final[dict[str, str]] = {
    **{s.name: s.color for s in STAGE_TABLE}, JOINT: "#222222",
}


def outcome_order(name: str) -> int:
    """Sort key putting outcomes in table order (unknown names last)."""
    return OUTCOMES.index(name) if name in OUTCOMES else len(OUTCOMES)
