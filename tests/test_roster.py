"""sim roster: the iterative staffing algorithm (Mt/M/st validation), the covering
integer program, hourly shifts, and the command's outputs and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.config import WEEKDAYS, scenario_from_dict
from sim.executors import make_executor
from sim.model import simulate
from sim.roster import (
    HOURS,
    ShiftPattern,
    cover,
    hourly_shifts,
    quantile_staff,
    requirement,
    staff_per_hour,
    with_shifts,
)
from sim.validation import mmc_dict

runner = CliRunner()


def test_hourly_shifts_give_the_staff_asked_for() -> None:
    rng = np.random.default_rng(3)
    staff = rng.integers(0, 4, HOURS)
    d = mmc_dict(10, 24, 5, 7)
    sc = scenario_from_dict(d, "<t>")
    spec = with_shifts(sc, "servers", hourly_shifts(staff)).staff[0]
    assert (staff_per_hour(spec) == staff).all()


def test_quantile_staff_is_the_smallest_with_a_small_enough_tail() -> None:
    counts = np.zeros((HOURS, 6), dtype=np.int64)
    counts[:, :] = [10, 20, 30, 20, 15, 5]  # P(L>=k): 1, .9, .7, .4, .2, .05
    assert (quantile_staff(counts, 0.2) == 4).all()
    assert (quantile_staff(counts, 0.19) == 5).all()
    assert (quantile_staff(counts, 0.95) == 1).all()  # never below one person


def test_cover_finds_the_cheapest_shifts() -> None:
    req = np.zeros(HOURS, dtype=int)
    for d in range(7):
        req[24 * d + 8: 24 * d + 16] = 2  # 08-16: two people
        req[24 * d + 16: 24 * d + 20] = 1  # 16-20: one
    eight = ShiftPattern(name="eight", length_hour=8)
    four = ShiftPattern(name="four", length_hour=4, cost_factor=1.25)
    chosen, cost = cover(req, [eight, four], hourly_cost=10)
    # per day two eights and one four (e.g. 08-16 twice and 16-20): 210; three eights
    # would cost 240, eights and no four cannot cover 16-20 without a third
    assert cost == pytest.approx(7 * (2 * 80 + 50))
    on = np.zeros(HOURS)
    for c, n in chosen:
        on[c.hours()] += n
    assert (on >= req).all()
    assert sum(n for c, n in chosen if c.pattern.name == "four") == 7


def test_cover_with_a_break_needs_a_second_shift_in_that_hour() -> None:
    req = np.zeros(HOURS, dtype=int)
    req[9:17] = 1  # Monday 09-17
    brk = ShiftPattern(name="split", length_hour=9, break_after_hour=4, days=["mon"],
                       start_hours=[8, 9])
    one = ShiftPattern(name="one", length_hour=1, days=["mon"], cost_factor=3)
    chosen, cost = cover(req, [brk, one], hourly_cost=1)
    # the 09:00 split shift covers 09-13 and 14-18; 13-14 needs a one-hour shift
    assert cost == pytest.approx(8 + 3)
    assert {(c.pattern.name, c.start) for c, _ in chosen} == {("split", 9), ("one", 13)}
    shifts = [s for c, n in chosen for s in c.shifts(n)]
    assert sorted((s.start_hour, s.end_hour) for s in shifts) == [(9, 13), (13, 14),
                                                                  (14, 18)]


@pytest.mark.statistical
def test_isa_keeps_delay_probability_time_stable(stat_seed: int) -> None:
    """Mt/M/st with a sinusoidal arrival rate (Feldman et al. 2008): with the ISA's
    staffing the probability that an arrival waits stays near the target in every hour.

    The hourly estimates come from 6 replications on fresh seeds; each hour's band is its
    own t-interval (99.9%, two-sided) widened by 0.08 for integer staffing and the ISA's
    own sampling noise.  A constant staffing with the same staff-hours misses the band.
    """
    alpha = 0.2
    d = mmc_dict(20, 24, 12, 29, seed=stat_seed, replications=6, warmup_days=1)
    d["communities"][0]["hour_profile"] = [float(1 + 0.6 * np.sin(2 * np.pi * h / 24))
                                           for h in range(24)]
    sc = scenario_from_dict(d, "<mt/m/st>")
    ex = make_executor(1)
    try:
        req = requirement(sc, "servers", alpha, 6, stat_seed, ex, iterations=6)
    finally:
        ex.close()

    def delay_by_hour(staff: np.ndarray) -> pd.DataFrame:
        s2 = with_shifts(sc, "servers", hourly_shifts(staff))
        frames = []
        for r in range(6):
            q = simulate(s2, stat_seed + 1000, r).requests
            q = q[q["created_min"] >= sc.run.warmup_min]
            frames.append(q.assign(delayed=(q["responded_min"] - q["created_min"]) > 1e-9))
        q = pd.concat(frames)
        return q.groupby(["replication", "hour"], observed=True)["delayed"].mean().unstack()

    from scipy import stats

    per = delay_by_hour(req.staff)
    mean, sd = per.mean().to_numpy(), per.std().to_numpy()
    hw = stats.t.ppf(0.9995, len(per) - 1) * sd / np.sqrt(len(per)) + 0.08
    assert (np.abs(mean - alpha) <= hw).all(), (mean, hw)
    assert abs(mean.mean() - alpha) < 0.05
    flat = np.full(HOURS, round(req.staff.sum() / HOURS))
    flat_mean = delay_by_hour(flat).mean().to_numpy()
    assert (np.abs(flat_mean - alpha) > hw).any()


def _small_scenario(tmp_path):  # type: ignore[no-untyped-def]
    import yaml

    data = yaml.safe_load(Path("scenarios/quanxueli.yaml").read_text())
    data["run"].update(horizon_days=14, replications=3)
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_roster_command_writes_tables_and_figure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _small_scenario(tmp_path)
    out = tmp_path / "r"
    res = runner.invoke(app, ["roster", str(path), "--pool", "technicians", "--target",
                              "onsite=0.8", "-o", str(out), "-n", "3", "--rounds", "1",
                              "--iterations", "3", "--no-compare", "-j", "1"])
    assert res.exit_code == 0, res.output
    hours = pd.read_csv(out / "roster_hours.csv")
    assert len(hours) == HOURS
    assert (hours["scheduled"] >= hours["requirement"]).all()
    shifts = pd.read_csv(out / "roster.csv")
    assert shifts["weekly_cost"].sum() > 0
    assert set(shifts["day"]) <= set(WEEKDAYS)
    assert (out / "roster.png").stat().st_size > 10_000
    assert (out / ".sim-kind").read_text().strip() == "roster"
    by_hour = pd.read_csv(out / "roster_compliance_by_hour.csv")
    assert by_hour.loc[by_hour["replications"] < 2, "ci_high"].isna().all()
    by_hour = by_hour[by_hour["replications"] >= 2]
    # shares' intervals stay in [0, 1] around the mean (a t interval passes 100 % here)
    assert ((by_hour["ci_low"] >= 0) & (by_hour["ci_low"] <= by_hour["mean"])
            & (by_hour["mean"] <= by_hour["ci_high"]) & (by_hour["ci_high"] <= 1)).all()
    assert (by_hour["mean"] == 1).any() and (by_hour["mean"] < 1).any()
    meta = json.loads((out / "roster.json").read_text())
    assert meta["pool"] == "technicians" and meta["targets"] == {"onsite": 0.8}
    assert meta["pool_cost"] == pytest.approx(shifts["weekly_cost"].sum())
    rep = runner.invoke(app, ["report", str(out)])
    assert rep.exit_code == 0, rep.output
    page = (out / "report.html").read_text(encoding="utf-8")
    verdict = ("meets every target on fresh seeds, and again" if meta["confirmed"]
               else "NOT")
    assert verdict in page and "onsite ≥ 80%" in page
    assert page.count("<tr>") >= len(shifts) + len(pd.read_csv(out / "roster_bounds.csv"))
    assert f"{shifts['weekly_cost'].iloc[0]:,.0f}" in page
    assert page.count("data:image/png;base64,") == 1


def test_roster_bad_input_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _small_scenario(tmp_path)
    res = runner.invoke(app, ["roster", str(path), "--pool", "nobody", "--target",
                              "onsite=0.8", "-o", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "--pool nobody: no such pool" in res.output
    bad = tmp_path / "p.yaml"
    bad.write_text("patterns:\n  - {name: x, length_hour: 30}\n")
    res = runner.invoke(app, ["roster", str(path), "--pool", "technicians", "--target",
                              "onsite=0.8", "-o", str(tmp_path / "y"), "--patterns",
                              str(bad)])
    assert res.exit_code == 2
    assert "patterns.0.length_hour" in res.output
    assert "Traceback" not in res.output


def test_verification_tests_every_targeted_stage_of_every_type() -> None:
    """The roster's check reads the optimiser's lower bounds: one row per community type
    and targeted stage (an empty table would pass every roster)."""
    import yaml

    from sim.optimiser import lower_bounds
    from sim.roster import verify_replication

    data = yaml.safe_load(Path("scenarios/quanxueli.yaml").read_text())
    data["run"].update(horizon_days=3, replications=2)
    sc = scenario_from_dict(data, "<t>")
    tidy = pd.concat([verify_replication(sc, 4, r)[0] for r in range(2)], ignore_index=True)
    lcb = lower_bounds(tidy, {"respond": 0.99, "onsite": 0.5}, 0.95, by_type=True)
    types = {c.type for c in sc.communities}
    assert len(lcb) == 2 * len(types)
    assert set(lcb["stage"]) <= {"respond", "onsite"} and lcb["lcb"].notna().all()
