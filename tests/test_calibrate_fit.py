"""Calibration from a log: arrivals, mixes and censored durations are recovered from a
log the simulator wrote; the scenario runs; the report stands alone; --check compares.

Statistical checks use intervals at level ``1 - 0.01 / m`` for ``m`` simultaneous
checks (Bonferroni), so a correct fit fails fewer than 1% of seeds.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from scipy import stats
from typer.testing import CliRunner

from sim.calibrate.check import observed_compliance, wilson
from sim.calibrate.fit import (
    POOLED,
    Sample,
    fit_exponential,
    fit_log,
    fit_lognormal,
    fit_sample,
    fit_table,
    kaplan_meier,
)
from sim.calibrate.profiles import (
    eb_alpha,
    factorisation_test,
    grouped_shares,
    hour_of_week_exposure,
)
from sim.calibrate.report import render_fit_report
from sim.calibrate.scenario import write_calibration
from sim.config import Scenario, load_scenario, scenario_from_dict
from sim.sources import load_sources

ORIGIN = pd.Timestamp("2024-01-01")  # a Monday 00:00
HOURS = [0.2] * 6 + [0.6, 1.0, 1.6, 2.0, 2.0, 1.8, 1.4, 1.6, 1.8, 1.7, 1.5, 1.2, 1.0, 0.9,
                     0.8, 0.6, 0.4, 0.3]
DAYS = [1.2, 1.1, 1.1, 1.0, 1.0, 0.8, 0.8]
RATES = {"east": 40.0, "west": 15.0}
MIXES = {"east": {"leak": 0.6, "noise": 0.4}, "west": {"leak": 0.3, "noise": 0.7}}
CHANNEL_MIX = {"phone": 0.7, "mini_program": 0.3}
LEAK = {"dist": "lognormal", "mean_min": 600.0, "cv": 1.5}
NOISE = {"dist": "exponential", "mean_min": 240.0}
HAS_LOGS = importlib.util.find_spec("sim.calibrate.logs") is not None
BALTIMORE = Path(__file__).resolve().parents[1].parent / "shared/data/baltimore311/311_sample.csv"


def _pool(name: str, kind: str, n: int) -> dict[str, Any]:
    return {"name": name, "kind": kind, "scope": "zone",
            "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": n}]}


AMPLE_STAFF = [_pool("desk", "service_desk", 500), _pool("tech", "technician", 500)]


def truth(horizon_days: float = 60.0) -> Scenario:
    """Two areas, two categories with known durations; no waiting (ample staff, zero desk
    and travel time), so closed minus created is exactly the work time."""
    def com(name: str) -> dict[str, Any]:
        return {"name": name, "type": "custom", "households": 1,
                "requests_per_household_per_day": RATES[name], "hour_profile": HOURS,
                "weekday_profile": DAYS, "channel_mix": CHANNEL_MIX,
                "category_mix": MIXES[name],
                "travel_time": {"dist": "fixed", "value_min": 0}}
    zero = {"dist": "fixed", "value_min": 0}
    return scenario_from_dict({
        "name": "truth",
        "run": {"horizon_days": horizon_days, "warmup_days": 0, "replications": 1},
        "escalation": {"enabled": False},
        "categories": {"leak": {"respond_time": zero, "complex_prob": 0, "work_time": LEAK},
                       "noise": {"respond_time": zero, "complex_prob": 0, "work_time": NOISE}},
        "communities": [com("east"), com("west")],
        "staff": AMPLE_STAFF,
    }, "<truth>")


def clean_log(requests: pd.DataFrame, *, first_response: pd.Series | None = None,
              onsite: pd.Series | None = None) -> pd.DataFrame:
    """A cleaned log's request table (the columns ``CleanLog.requests`` has)."""
    nat = pd.Series(pd.NaT, index=requests.index, dtype="datetime64[ns]")
    df = pd.DataFrame({
        "created": requests["created"], "closed": requests["closed"],
        "first_response": nat if first_response is None else first_response,
        "onsite": nat if onsite is None else onsite, "due": nat,
        "category": requests["category"].astype(str),
        "category_raw": requests["category"].astype(str),
        "channel": requests["channel"].astype(str), "area": requests["area"].astype(str),
    })
    df["open"] = df["closed"].isna()
    return df


def simulated_log(sc: Scenario, seed: int) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """The simulator's requests as a log: timestamps from minutes, open ones without a
    close time, window = the run."""
    from sim.model import simulate

    r = simulate(sc, seed, 0).requests

    def stamp(col: str) -> pd.Series:
        return pd.Series(ORIGIN + pd.to_timedelta(r[col].to_numpy(), unit="min"),
                         index=r.index).astype("datetime64[ns]")

    df = clean_log(pd.DataFrame({
        "created": stamp("created_min"), "closed": stamp("finished_min"),
        "category": r["category"], "channel": r["channel"], "area": r["community"]}))
    return df, ORIGIN, ORIGIN + pd.Timedelta(days=sc.run.horizon_days)


def _lognormal_params(d: dict[str, float]) -> tuple[float, float]:
    s2 = math.log1p(d["cv"] ** 2)
    return math.log(d["mean_min"]) - s2 / 2, math.sqrt(s2)


# --------------------------------------------------------------------------- recovery
@pytest.fixture(scope="module")
def recovered() -> tuple[Any, pd.DataFrame]:
    log, start, end = simulated_log(truth(), seed=11)
    assert log["open"].any(), "the synthetic log should hold open requests"
    m = 2 + 24 + 7 + 2 + 2 + 3   # rates, hours, weekdays, category & channel mix, durations
    return fit_log(log, start, end, level=1 - 0.01 / m), log


def test_rates_and_profiles_recovered(recovered: tuple[Any, pd.DataFrame]) -> None:
    fit, _ = recovered
    for r in fit.rates:
        assert r.low <= RATES[r.area] <= r.high, r
    hours = np.array(HOURS) / sum(HOURS)
    s = fit.pooled_hours
    assert np.all((s.low <= hours) & (hours <= s.high)), (s.share, hours)
    days = np.array(DAYS) / sum(DAYS)
    w = fit.pooled_weekdays
    assert np.all((w.low <= days) & (days <= w.high)), (w.share, days)


def test_mixes_recovered_per_area(recovered: tuple[Any, pd.DataFrame]) -> None:
    fit, _ = recovered
    for area, mix in MIXES.items():
        s = fit.area_categories[area]
        i = s.labels.index("leak")
        assert s.low[i] <= mix["leak"] <= s.high[i], (area, s.share)
        c = fit.area_channels[area]
        j = c.labels.index("phone")
        assert c.low[j] <= CHANNEL_MIX["phone"] <= c.high[j], (area, c.share)


def test_durations_recovered_with_the_right_family(recovered: tuple[Any, pd.DataFrame]) -> None:
    fit, _ = recovered
    leak = fit.durations[("leak", "finish")]
    noise = fit.durations[("noise", "finish")]
    assert leak.best.family == "lognormal"
    assert noise.best.family == "exponential"
    assert leak.sample.censored > 0
    b = leak.best
    assert b.mean_ci[0] <= LEAK["mean_min"] <= b.mean_ci[1], b
    assert b.cv_ci[0] <= LEAK["cv"] <= b.cv_ci[1], b
    n = noise.best
    assert n.mean_ci[0] <= NOISE["mean_min"] <= n.mean_ci[1], n


# --------------------------------------------------------------------------- censoring
def _censored_lognormal(seed: int, n: int = 4000) -> tuple[Sample, float, float]:
    rng = np.random.default_rng(seed)
    mu, sigma = 5.0, 1.0
    x = rng.lognormal(mu, sigma, n)
    c = rng.uniform(0, 300, n)           # heavy censoring: most long times are cut
    return Sample(np.minimum(x, c), x <= c), mu, sigma


def test_censored_fit_recovers_what_dropping_open_requests_biases() -> None:
    s, mu, sigma = _censored_lognormal(3)
    assert s.censored / s.n > 0.4
    true_mean = math.exp(mu + sigma**2 / 2)
    true_cv = math.sqrt(math.expm1(sigma**2))
    f = fit_lognormal(s, level=1 - 0.01 / 2)
    assert f.mean_ci[0] <= true_mean <= f.mean_ci[1]
    assert f.cv_ci[0] <= true_cv <= f.cv_ci[1]
    naive = fit_lognormal(Sample(s.times[s.observed], s.observed[s.observed]), 1 - 0.01 / 2)
    assert naive.mean_ci[1] < true_mean       # far below: open requests are the long ones
    assert naive.mean_min < 0.6 * true_mean


def test_censored_fits_match_scipy_censored_data() -> None:
    s, _, _ = _censored_lognormal(5, n=1500)
    data = stats.CensoredData(uncensored=s.times[s.observed], right=s.times[~s.observed])
    shape, _, scale = stats.lognorm.fit(data, floc=0)
    f = fit_lognormal(s)
    assert f.params["sigma"] == pytest.approx(shape, rel=1e-3)
    assert f.params["mu"] == pytest.approx(math.log(scale), abs=1e-3)
    _, mean = stats.expon.fit(data, floc=0)
    assert fit_exponential(s).mean_min == pytest.approx(mean, rel=1e-3)


@pytest.mark.parametrize("censor", [False, True])
def test_family_selection_on_clear_cases(censor: bool) -> None:
    rng = np.random.default_rng(8)
    n = 2000
    samples = {"exponential": rng.exponential(100.0, n),
               "lognormal": rng.lognormal(4.0, 1.6, n)}
    for family, x in samples.items():
        c = rng.uniform(0, 400, n) if censor else np.full(n, np.inf)
        s = Sample(np.minimum(x, c), x <= c)
        sf = fit_sample("c", "finish", s)
        assert sf is not None
        assert sf.best.family == family, {k: f.aic for k, f in sf.fits.items()}


def test_kaplan_meier_equals_ecdf_without_censoring() -> None:
    x = np.array([3.0, 1.0, 2.0, 5.0])
    t, cdf = kaplan_meier(Sample(x, np.ones(4, bool)))
    assert list(t) == [1.0, 2.0, 3.0, 5.0]
    assert list(cdf) == pytest.approx([0.25, 0.5, 0.75, 1.0])
    # one censored at 2.5: the two later events share the remaining mass
    t, cdf = kaplan_meier(Sample(np.array([1.0, 2.0, 2.5, 3.0, 5.0]),
                                 np.array([True, True, False, True, True])))
    assert list(cdf) == pytest.approx([0.2, 0.4, 0.7, 1.0])


# --------------------------------------------------------------------------- profiles
def test_weekday_shares_are_per_exposure() -> None:
    # one request every hour for 8 weeks and 4 days: nine Mondays, eight Sundays
    start = ORIGIN
    end = ORIGIN + pd.Timedelta(days=60)
    created = pd.Series(pd.date_range(start, end, freq="h", inclusive="left"))
    expo = hour_of_week_exposure(start, end)
    assert expo.sum() == pytest.approx(60 * 24)
    assert expo.sum(axis=1)[0] == pytest.approx(9 * 24)
    assert expo.sum(axis=1)[6] == pytest.approx(8 * 24)
    groups = pd.Series("a", index=created.index)
    days = created.dt.day_of_week.map(lambda d: "mtwTFsS"[d])
    pooled, _ = grouped_shares(groups, days, list("mtwTFsS"), exposure=expo.sum(axis=1))
    assert pooled.share == pytest.approx(np.full(7, 1 / 7), abs=2e-3)


def test_thin_groups_shrink_to_the_pool_big_ones_keep_their_own() -> None:
    rng = np.random.default_rng(4)
    p_big = np.array([0.5, 0.3, 0.2])
    p_rest = np.array([0.2, 0.3, 0.5])
    labels = ["a", "b", "c"]
    rows = [("big", rng.choice(3, 5000, p=p_big))] + [
        (f"g{i}", rng.choice(3, 2000, p=p_rest)) for i in range(4)] + [
        ("thin", rng.choice(3, 6, p=p_big))]
    groups = pd.Series(np.concatenate([[g] * len(v) for g, v in rows]))
    bins = pd.Series(np.concatenate([np.array(labels)[v] for _, v in rows]))
    pooled, per = grouped_shares(groups, bins, labels)
    raw_thin = np.bincount(rows[-1][1], minlength=3) / 6
    p0 = pooled.share
    # the thin group lies much nearer the pool than its own raw shares do
    assert np.abs(per["thin"].share - p0).sum() < 0.5 * np.abs(raw_thin - p0).sum()
    assert per["big"].share == pytest.approx(p_big, abs=0.03)
    assert 1.0 < per["big"].alpha < 1e4


def test_eb_alpha_large_for_alike_groups_small_for_different() -> None:
    rng = np.random.default_rng(9)
    p = np.array([0.2, 0.3, 0.5])
    alike = np.array([rng.multinomial(3000, p) for _ in range(6)], dtype=float)
    different = np.array([rng.multinomial(3000, rng.dirichlet([2, 2, 2])) for _ in range(6)],
                         dtype=float)
    assert eb_alpha(alike) > 1e4
    assert eb_alpha(different) < 100


def test_factorisation_test_tells_product_from_interaction() -> None:
    rng = np.random.default_rng(2)
    hours_p = np.array(HOURS) / sum(HOURS)
    days_p = np.array(DAYS) / sum(DAYS)
    n = 20000

    def stamps(cells: np.ndarray) -> pd.Series:
        d, h = np.divmod(cells, 24)
        week = rng.integers(0, 10, len(cells))
        return pd.Series(ORIGIN + pd.to_timedelta(week * 7 + d, unit="D")
                         + pd.to_timedelta(h, unit="h"))

    product = np.outer(days_p, hours_p).ravel()
    ok = factorisation_test(stamps(rng.choice(168, n, p=product)))
    inter = np.outer(days_p, hours_p)
    inter[5:] = np.outer(days_p[5:], np.roll(hours_p, 6))   # weekends peak later
    bad = factorisation_test(stamps(rng.choice(168, n, p=(inter / inter.sum()).ravel())))
    assert ok.p_value > 1e-3 and ok.cramers_v < 0.05
    assert bad.p_value < 1e-10 and bad.cramers_v > 0.1


# --------------------------------------------------------------------------- outputs
@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Any:
    log, start, end = simulated_log(truth(), seed=21)
    out = tmp_path_factory.mktemp("calib")
    staff = out / "staff.yaml"
    staff.write_text(yaml.safe_dump(AMPLE_STAFF), encoding="utf-8")
    dropped = pd.DataFrame({"row": [3, 9, 12], "reason": ["duplicate", "duplicate",
                                                          "closed before created"]})
    res = write_calibration(log, start, end, out / "out", source="log.csv",
                            command="sim calibrate log.csv --map m.yaml -o out",
                            dropped=dropped, staff=staff, check=True, replications=3)
    return res, log


def test_scenario_runs_and_carries_its_sources(written: Any) -> None:
    res, _ = written
    sc = load_scenario(res.scenario_path)
    assert {c.name for c in sc.communities} == {"east", "west"}
    rate = {c.name: c.requests_per_day for c in sc.communities}
    assert rate["east"] == pytest.approx(RATES["east"], rel=0.15)
    assert [p.name for p in sc.staff] == ["desk", "tech"]
    text = res.scenario_path.read_text(encoding="utf-8")
    assert "copied from" in text and "staff" in text
    quantities = set(pd.read_csv(res.fit_path)["quantity"])
    fields = ("requests_per_household_per_day", "hour_profile", "weekday_profile",
              "channel_mix", "category_mix", "work_time")
    seen = 0
    for line in text.splitlines():
        key = line.strip().split(":")[0]
        if key in fields:
            m = re.search(r"# data: log\.csv, (\S+)", line)
            assert m, line
            assert any(q.startswith(m.group(1)) for q in quantities), m.group(1)
            seen += 1
    assert seen == 2 * 5 + 2
    from sim.model import simulate
    r = simulate(sc.model_copy(update={"run": sc.run.model_copy(
        update={"horizon_days": 10, "warmup_days": 0})}), 1, 0).requests
    assert len(r) > 300 and r["finished_min"].notna().mean() > 0.9


def test_fit_csv_has_one_row_per_quantity(written: Any) -> None:
    res, _ = written
    t = pd.read_csv(res.fit_path)
    assert list(t.columns) == ["quantity", "estimate", "ci_low", "ci_high", "n", "method"]
    assert t["quantity"].is_unique
    row = t.set_index("quantity").loc["duration/leak/finish/lognormal/mean_min"]
    assert row["ci_low"] <= row["estimate"] <= row["ci_high"]
    assert "chosen" in row["method"] and "censored" in row["method"]


def test_check_passes_for_the_truth_and_fails_for_understaffing(
        written: Any, tmp_path: Path) -> None:
    res, log = written
    assert res.check is not None and res.failed == 0, res.check[~res.check["passed"]]
    sections = set(res.check["section"])
    assert {"hour_share", "weekday_share", "category_share", "channel_share",
            "finish_p50", "finish_p90", "compliance"} <= sections
    # one technician for 55 requests a day: finish times blow up, the check says so
    staff = tmp_path / "staff.yaml"
    staff.write_text(yaml.safe_dump([_pool("desk", "service_desk", 5),
                                     _pool("tech", "technician", 1)]), encoding="utf-8")
    bad = write_calibration(log, res.fit.start, res.fit.end, tmp_path / "bad",
                            source="log.csv", command="c", staff=staff, check=True,
                            replications=2)
    failed = bad.check[~bad.check["passed"]] if bad.check is not None else None
    assert failed is not None and {"finish_p50", "compliance"} <= set(failed["section"])
    assert "FAIL" in bad.report_path.read_text(encoding="utf-8")


def test_fit_report_is_self_contained(written: Any) -> None:
    res, _ = written
    page = res.report_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    srcs = re.findall(r'src="([^"]*)"', page)
    text = re.sub(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"', "", page)
    assert not re.search(r"(?i)(https?:|//[a-z]|<script|<link|@import|url\()", text)
    assert len(srcs) >= 1 + 3 and all(s.startswith("data:image/png;base64,") for s in srcs)
    for text in ("Kaplan", "closed before created", "Cramér", "Check: the model"):
        assert text in page


def test_observed_compliance_uses_the_sla_rule() -> None:
    created = pd.Series(ORIGIN + pd.to_timedelta([0, 60, 120, 180], unit="min"))
    closed = created + pd.to_timedelta([100, 300, 200, np.nan], unit="min")
    log = clean_log(pd.DataFrame({"created": created, "closed": closed,
                                  "category": "leak", "channel": "phone", "area": "a"}))
    sc = truth()
    # window ends 5 h after the last arrival: the open one is overdue (a miss)
    got = observed_compliance(log, ORIGIN, ORIGIN + pd.Timedelta(hours=8), sc, ["finish"])
    assert got["finish"].value == pytest.approx(2 / 4)
    # window ends 1 h after it: its 4 h deadline is still ahead (unknown, left out)
    got = observed_compliance(log, ORIGIN, ORIGIN + pd.Timedelta(hours=4), sc, ["finish"])
    assert got["finish"].value == pytest.approx(2 / 3)
    w = wilson(2, 3)
    assert w.low < 2 / 3 < w.high


def test_first_response_and_onsite_stages_are_fitted() -> None:
    rng = np.random.default_rng(6)
    n = 3000
    created = pd.Series(ORIGIN + pd.to_timedelta(rng.uniform(0, 30 * 1440, n), unit="min"))
    resp = created + pd.to_timedelta(rng.exponential(15.0, n), unit="min")
    onsite = resp + pd.to_timedelta(rng.exponential(25.0, n), unit="min")
    closed = onsite + pd.to_timedelta(rng.lognormal(4.0, 0.8, n), unit="min")
    end = ORIGIN + pd.Timedelta(days=30)
    closed = closed.where(closed <= end)
    log = clean_log(pd.DataFrame({"created": created, "closed": closed, "category": "leak",
                                  "channel": "phone", "area": "a"}),
                    first_response=resp.where(resp <= end), onsite=onsite.where(onsite <= end))
    fit = fit_log(log, ORIGIN, end, level=1 - 0.01 / 3)
    assert set(fit.stages) == {"respond", "onsite", "finish", "work", "travel"}
    r = fit.durations[("leak", "respond")].fits["exponential"]
    assert r.mean_ci[0] <= 15.0 <= r.mean_ci[1]
    w = fit.durations[("leak", "work")].best
    assert w.family == "lognormal"
    assert w.mean_ci[0] <= math.exp(4.0 + 0.32) <= w.mean_ci[1]
    t = fit.durations[(POOLED, "travel")].fits["exponential"]
    assert t.mean_ci[0] <= 25.0 <= t.mean_ci[1]


def test_fit_table_and_report_need_no_check() -> None:
    log, start, end = simulated_log(truth(horizon_days=14), seed=3)
    fit = fit_log(log, start, end, top_areas=1)
    assert fit.areas == ["east", "other"]
    assert {q.split("/")[0] for q in fit_table(fit)["quantity"]} >= {
        "rate", "hour_share", "duration", "hour_weekday_independence"}
    assert "Check:" not in render_fit_report(fit, "x", "y")


# --------------------------------------------------------------------------- command line
def _app() -> typer.Typer:
    from sim.cli_calibrate import register

    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    return app


def test_cli_needs_exactly_one_mapping(tmp_path: Path) -> None:
    res = CliRunner().invoke(_app(), ["calibrate", str(tmp_path / "x.csv"), "-o",
                                      str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "exactly one of --map" in res.output
    assert "Traceback" not in res.output


@pytest.mark.skipif(not (HAS_LOGS and BALTIMORE.exists()),
                    reason="needs the log reader and the Baltimore sample")
def test_cli_calibrates_the_baltimore_sample(tmp_path: Path) -> None:
    res = CliRunner().invoke(_app(), ["calibrate", str(BALTIMORE), "--format",
                                      "baltimore311", "-o", str(tmp_path), "--top-areas", "5"])
    assert res.exit_code == 0, res.output
    sc = load_scenario(tmp_path / "scenario.yaml")
    assert len(sc.communities) == 6
    fit = pd.read_csv(tmp_path / "fit.csv").set_index("quantity")
    assert "hour_weekday_independence/chi2" in fit.index


def test_same_log_gives_identical_files(tmp_path: Path) -> None:
    log, start, end = simulated_log(truth(horizon_days=14), seed=5)
    runs = [write_calibration(log, start, end, tmp_path / f"r{i}", source="log.csv",
                              command="c") for i in range(2)]
    for name in ("scenario.yaml", "fit.csv", "fit_report.html"):
        assert (tmp_path / "r0" / name).read_bytes() == (tmp_path / "r1" / name).read_bytes()
    text = runs[0].scenario_path.read_text(encoding="utf-8")
    assert "TEMPLATE" in text
    assert load_scenario(runs[0].scenario_path).staff


def test_bad_staff_files_get_one_clear_line(tmp_path: Path) -> None:
    from sim.calibrate.scenario import StaffFileError
    from sim.config import ScenarioError

    log, start, end = simulated_log(truth(horizon_days=7), seed=5)
    staff = tmp_path / "staff.yaml"
    staff.write_text("name: desk\n", encoding="utf-8")
    with pytest.raises(StaffFileError, match=r"staff\.yaml: \(top level\): expected a list"):
        write_calibration(log, start, end, tmp_path / "o", source="l", command="c",
                          staff=staff)
    staff.write_text(yaml.safe_dump([_pool("desk", "service_desk", 1)]), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"scenario\.yaml: categories\.\S+\.onsite_by: "
                                            r"no staff pool of kind technician"):
        write_calibration(log, start, end, tmp_path / "o", source="l", command="c",
                          staff=staff)


def test_an_empty_request_table_is_refused() -> None:
    log, start, end = simulated_log(truth(horizon_days=7), seed=5)
    with pytest.raises(ValueError, match="no requests"):
        fit_log(log.iloc[:0], start, end)


@pytest.mark.skipif(not HAS_LOGS, reason="needs the log reader")
def test_cli_check_exit_codes(tmp_path: Path) -> None:
    log, _, _ = simulated_log(truth(horizon_days=28), seed=13)
    csv = tmp_path / "log.csv"
    pd.DataFrame({
        "Created": log["created"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "Closed": log["closed"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "Type": log["category"], "Channel": log["channel"], "Area": log["area"],
    }).to_csv(csv, index=False)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(yaml.safe_dump({
        "columns": {"created": "Created", "closed": "Closed", "category": "Type",
                    "channel": "Channel", "area": "Area"},
        "datetime_format": "%Y-%m-%d %H:%M:%S",
        "channels": {c: c for c in ("phone", "mini_program")}}), encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(AMPLE_STAFF), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump([_pool("desk", "service_desk", 5),
                                   _pool("tech", "technician", 1)]), encoding="utf-8")
    base = ["calibrate", str(csv), "--map", str(mapping), "--check", "--replications", "3"]
    ok = CliRunner().invoke(_app(), [*base, "-o", str(tmp_path / "a"), "--staff", str(good)])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "a" / "check.csv").exists()
    fail = CliRunner().invoke(_app(), [*base, "-o", str(tmp_path / "b"), "--staff", str(bad)])
    assert fail.exit_code == 1, fail.output
    assert "outside tolerance: finish_p50" in fail.output
    typo = CliRunner().invoke(_app(), [*base, "-o", str(tmp_path / "c"), "--staff",
                                       str(tmp_path / "missing.yaml")])
    assert typo.exit_code == 2 and "missing.yaml" in typo.output


def test_a_log_without_areas_gives_unique_quantities() -> None:
    log, start, end = simulated_log(truth(horizon_days=14), seed=5)
    log["area"] = "all"                 # what the reader writes when no area is mapped
    t = fit_table(fit_log(log, start, end))
    assert t["quantity"].is_unique
    assert "rate/all" in set(t["quantity"])


@pytest.mark.skipif(not (HAS_LOGS and BALTIMORE.exists()),
                    reason="needs the log reader and the Baltimore sample")
def test_baltimore_hour_profile_matches_the_presets_source() -> None:
    logs = importlib.import_module("sim.calibrate.logs")
    clean = logs.read_log(BALTIMORE, logs.builtin_mapping("baltimore311"))
    fit = fit_log(clean.requests, clean.start, clean.end)
    presets = importlib.import_module("sim.calibrate.presets")
    # the same rows: the preset weights are 24 x the pooled shares, but for the rounding
    # to 2 decimals and fit.csv's one pseudo-count
    preset = np.array(presets.hour_profile(BALTIMORE))
    assert np.abs(fit.pooled_hours.share * 24 - preset).max() < 0.006
    # every fit.csv quantity the sources file names is there and says the same
    table = fit_table(fit).set_index("quantity")["estimate"]
    refs = {s.ref for s in load_sources().values() if s.ref and s.ref.quantity}
    assert {r.quantity for r in refs} == {"hour_share/(all)", "weekday_share/(all)"}
    for ref in refs:
        shares = table[table.index.str.startswith(ref.quantity + "/")].to_numpy()
        weights = np.array(getattr(presets, ref.function)(BALTIMORE))
        if ref.function.endswith("halfway_to_flat"):
            weights = 2 * weights - 1
        assert np.abs(shares * len(shares) - weights).max() < 0.012, ref


def test_parameter_intervals_are_profile_likelihood_intervals() -> None:
    rng = np.random.default_rng(12)
    x = rng.exponential(50.0, 40)
    c = rng.uniform(0, 150, 40)
    s = Sample(np.minimum(x, c), x <= c)
    crit = stats.chi2.ppf(0.95, 1) / 2
    e = fit_exponential(s, level=0.95)
    total = float(np.maximum(s.times, 1 / 60).sum())

    def ll(m: float) -> float:
        return -s.events * math.log(m) - total / m

    for end in e.mean_ci:
        assert e.loglik - ll(end) == pytest.approx(crit, abs=1e-4)
    # small samples: the profile interval is not symmetric on the log scale
    lo, hi = e.mean_ci
    assert math.log(hi / e.mean_min) > math.log(e.mean_min / lo) * 1.02
    f = fit_lognormal(s, level=0.95)
    for end in f.cv_ci:       # the profile over the mean at each end of the CV interval
        s2 = math.log1p(end**2)
        best = max(
            fit_lognormal_loglik(s, math.log(m) - s2 / 2, math.sqrt(s2))
            for m in np.geomspace(f.mean_min / 30, f.mean_min * 30, 4001))
        assert f.loglik - best == pytest.approx(crit, abs=5e-3)


def fit_lognormal_loglik(s: Sample, mu: float, sigma: float) -> float:
    """Censored lognormal log-likelihood, written out independently with scipy.stats."""
    t = np.maximum(s.times, 1 / 60)
    dist = stats.lognorm(sigma, scale=math.exp(mu))
    return float(dist.logpdf(t[s.observed]).sum() + dist.logsf(t[~s.observed]).sum())
