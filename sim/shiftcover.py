"""Shifts as choices: allowed shift patterns and the cheapest set covering a staffing
requirement per hour of the week, as an integer program solved by HiGHS
(:func:`scipy.optimize.milp`).  :mod:`sim.roster` builds the requirement and verifies
the result by simulation; nothing here simulates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.config import WEEKDAYS, ScenarioError, Shift, StaffPool, Weekday

HOURS = 168
"""Hours in the week (Monday 00:00 = hour 0)."""

class ShiftPattern(BaseModel):
    """A kind of shift the roster may use, at any of its start hours on any of its days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="pattern name")
    length_hour: int = Field(ge=1, le=24, description="hours from start to end")
    start_hours: list[int] | None = Field(
        None, description="allowed start hours (0-23); null: every hour")
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS),
                                description="weekdays it may start on")
    break_after_hour: int | None = Field(
        None, ge=1, description="an unpaid one-hour break this many hours after the start")
    cost_factor: float = Field(1.0, ge=0, description="share of the pool's hourly cost paid")
    on_call: bool = Field(False, description="on call from home (adds callout_min)")
    callout_min: float = Field(0.0, ge=0, description="call-out delay of an on-call person")


class PatternSet(BaseModel):
    """The allowed shift patterns (a YAML file ``patterns: [...]``)."""

    model_config = ConfigDict(extra="forbid")

    patterns: list[ShiftPattern] = Field(min_length=1)


def load_patterns(path: Path) -> list[ShiftPattern]:
    """Read a pattern file; a bad one raises :class:`ScenarioError` in one line."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return PatternSet.model_validate(data).patterns
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise ScenarioError(f"{path}: not YAML ({' '.join(str(e).split())[:120]})") from None
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ScenarioError(f"{path}: {where}: {err['msg']}") from None


def default_patterns(spec: StaffPool) -> list[ShiftPattern]:
    """The pool's own shifts as patterns: regular ones at any start hour, on-call ones at
    their own start hour (when residents expect a call-out)."""
    out = []
    for s in spec.shifts:
        out.append(ShiftPattern(
            name=s.name, length_hour=max(1, round(s.length_hour)),
            start_hours=[int(s.start_hour)] if s.on_call else None,
            cost_factor=s.cost_factor, on_call=s.on_call, callout_min=s.callout_min))
    return out



# --------------------------------------------------------------------- step 2: the shifts
@dataclass(frozen=True)
class Candidate:
    """One possible shift: a pattern on a day at a start hour."""

    pattern: ShiftPattern
    day: int
    start: int

    def hours(self) -> list[int]:
        """Hours of the week on duty (the break excluded)."""
        p = self.pattern
        return [(24 * self.day + self.start + k) % HOURS for k in range(p.length_hour)
                if p.break_after_hour is None or k != p.break_after_hour]

    def shifts(self, headcount: int) -> list[Shift]:
        """The shift (two, around a break) as scenario shifts."""
        p = self.pattern
        day = WEEKDAYS[self.day]
        spans = [(0, p.length_hour)]
        if p.break_after_hour is not None and p.break_after_hour < p.length_hour:
            spans = [(0, p.break_after_hour), (p.break_after_hour + 1, p.length_hour)]
        out = []
        for a, b in spans:
            if b <= a:
                continue
            start = self.start + a
            d = WEEKDAYS[(self.day + start // 24) % 7]
            end = (self.start + b) % 24
            out.append(Shift(name=f"{p.name} {day} {self.start:02d}:00"
                                  + (f" part {a}" if len(spans) > 1 else ""),
                             days=[d], start_hour=start % 24, end_hour=end or 24,
                             headcount=headcount, on_call=p.on_call,
                             callout_min=p.callout_min, cost_factor=p.cost_factor))
        return out


def cover(req: Sequence[int] | np.ndarray[Any, Any], patterns: Sequence[ShiftPattern],
          hourly_cost: float) -> tuple[list[tuple[Candidate, int]], float]:
    """The cheapest shifts covering ``req[h]`` people in every hour of the week.

    Returns the chosen (candidate, headcount) pairs and their weekly cost.

    Raises
    ------
    ScenarioError
        When the patterns cannot cover some hour.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    cands = [Candidate(p, WEEKDAYS.index(d), a) for p in patterns for d in p.days
             for a in (p.start_hours if p.start_hours is not None else range(24))]
    a_mat = lil_matrix((HOURS, len(cands)))
    cost = np.zeros(len(cands))
    for j, c in enumerate(cands):
        hrs = c.hours()
        for h in hrs:
            a_mat[h, j] = 1
        cost[j] = hourly_cost * c.pattern.cost_factor * len(hrs)
    r = np.asarray(req, dtype=float)
    uncovered = np.flatnonzero((np.asarray(a_mat.sum(axis=1)).ravel() == 0) & (r > 0))
    if len(uncovered):
        h = int(uncovered[0])
        raise ScenarioError(f"--patterns: no pattern covers {WEEKDAYS[h // 24]} "
                            f"{h % 24:02d}:00, where {int(r[h])} people are required")
    res = milp(cost, constraints=LinearConstraint(a_mat.tocsr(), lb=r, ub=np.inf),
               integrality=np.ones(len(cands)), bounds=Bounds(0, max(1.0, r.max())))
    if not res.success:  # pragma: no cover - covered hours always have a solution
        raise ScenarioError(f"--patterns: the shift problem has no solution ({res.message})")
    x = np.round(res.x).astype(int)
    chosen = [(c, int(n)) for c, n in zip(cands, x, strict=True) if n > 0]
    return chosen, float(cost @ x)


__all__ = ["HOURS", "Candidate", "PatternSet", "ShiftPattern", "cover", "default_patterns",
           "load_patterns"]
