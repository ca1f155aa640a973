"""Results of finished runs (sim.results): engine-free, intervals in [0, 1], edge runs.

* reading a run never imports simpy (``sim.results``, ``sim.io``, ``sim.report``,
  ``sim.figures``, ``sim.html_report`` and the ``sim report`` command);
* compliance intervals stay within [0, 1] (all met, none met, one replication) and cover
  the true share of a simulated binomial set-up at close to the nominal 95%;
* ``compliance.csv`` has every breakdown the terminal offers, ``street`` included;
* runs that measure nothing, or whose rule switches every stage off, end in exit 0 with
  tables and a message, through the real command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.results import proportion_interval, t_halfwidth

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8", errors="replace",
                          timeout=300, check=False)


# --------------------------------------------------------------------------- engine-free
@pytest.mark.parametrize("module", ["sim.results", "sim.io", "sim.report", "sim.figures",
                                    "sim.html_report"])
def test_reading_results_does_not_import_simpy(module: str) -> None:
    code = f"import {module}, sys; assert 'simpy' not in sys.modules, 'simpy imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


TINY = """\
name: tiny
run: {{horizon_days: 3, warmup_days: 1, replications: 2, seed: 5}}
communities:
  - {{name: Quanxueli, type: new_estate, street: Suncun, households: {households}}}
  - {{name: Yunhu, type: smart, street: Shunhua, households: {households}}}
staff:
  - name: desk
    kind: service_desk
    shifts: [{{start_hour: 0, end_hour: 24, headcount: {desk}}}]
  - name: technicians
    kind: technician
    shifts: [{{start_hour: 8, end_hour: 18, headcount: {tech}}}]
  - name: cadres
    kind: community_cadre
    shifts: [{{start_hour: 9, end_hour: 18, headcount: {cadre}}}]
{sla}"""


def tiny(tmp: Path, name: str, households: int = 400, desk: int = 1, tech: int = 2,
         cadre: int = 1, sla: str = "") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(TINY.format(households=households, desk=desk, tech=tech, cadre=cadre,
                                sla=sla), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tiny")
    out = tmp / "out"
    proc = run_cli("run", tiny(tmp, "base"), "-o", out, "--by", "street")
    assert proc.returncode == 0, proc.stderr
    assert "Suncun" in proc.stdout and "Shunhua" in proc.stdout
    return out


def test_sim_report_does_not_import_simpy(tiny_run: Path) -> None:
    code = ("import sys\nfrom sim.cli import main\nsys.argv = ['sim', 'report', sys.argv[1]]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'simpy' not in sys.modules, 'simpy imported'\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tiny_run)], capture_output=True,
                          text=True, timeout=300, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert (tiny_run / "report.html").is_file()


# --------------------------------------------------------------------------- compliance.csv
def test_compliance_csv_has_the_street_breakdown(tiny_run: Path) -> None:
    table = pd.read_csv(tiny_run / "compliance.csv")
    street = table[table["by"] == "street"]
    assert set(street["group"]) == {"Suncun", "Shunhua"}
    assert set(street["stage"]) >= {"respond", "joint"}
    # the two streets split the requests of the whole run
    overall = table[(table["by"] == "all") & (table["stage"] == "respond")]
    per_street = street[street["stage"] == "respond"]
    assert per_street["requests"].sum() == overall["requests"].sum()


def test_every_compliance_interval_is_within_0_and_1(tiny_run: Path) -> None:
    table = pd.read_csv(tiny_run / "compliance.csv")
    ci = table.dropna(subset=["ci_low"])
    assert len(ci) > 20
    assert (ci["ci_low"] >= 0).all() and (ci["ci_high"] <= 1).all()
    assert (ci["ci_low"] <= ci["mean"] + 1e-12).all()
    assert (ci["mean"] <= ci["ci_high"] + 1e-12).all()
    assert np.allclose(ci["halfwidth"], (ci["ci_high"] - ci["ci_low"]) / 2)


# --------------------------------------------------------------------------- intervals
@pytest.mark.parametrize(("shares", "trials"), [
    ([1.0] * 10, 500),         # every request of every replication met the target
    ([0.0] * 10, 500),         # none did
    ([1.0, 1.0, 0.98], 150),   # nearly all
    ([0.0, 0.02, 0.0, 0.01], 400),
    ([1.0, 0.0], 4),           # tiny and extreme
])
def test_interval_stays_within_0_and_1(shares: list[float], trials: int) -> None:
    x = np.asarray(shares)
    n = len(x)
    std = x.std(ddof=1)
    low, high = proportion_interval(x.mean(), std, n, trials)
    assert 0.0 <= low <= x.mean() <= high <= 1.0
    assert high > low  # still an interval, not a point
    # where the t interval would leave [0, 1], this one does not
    hw = t_halfwidth(std, n)
    if std > 0 and (x.mean() + hw > 1 or x.mean() - hw < 0):
        assert (low, high) != (x.mean() - hw, x.mean() + hw)


def test_all_met_gives_an_interval_reaching_1_and_below_it() -> None:
    low, high = proportion_interval(1.0, 0.0, 10, 1000)
    assert high == 1.0
    assert 0.99 < low < 1.0  # 1000 requests all met: the share is very likely above 99%
    low, high = proportion_interval(0.0, 0.0, 10, 1000)
    assert low == 0.0 and 0.0 < high < 0.01


def test_one_replication_gives_no_interval() -> None:
    low, high = proportion_interval(0.9, 0.0, 1, 200)
    assert np.isnan(low) and np.isnan(high)


@pytest.mark.parametrize(("p", "per_rep", "reps"), [(0.9, 40, 10), (0.97, 30, 10),
                                                    (0.995, 60, 10)])
def test_interval_covers_the_true_share_at_close_to_95_percent(
    p: float, per_rep: int, reps: int
) -> None:
    """4000 simulated experiments: ``reps`` replications, each a Poisson number of requests
    meeting the target with probability ``p``.  The method covers 95-97% here (measured
    over many seeds); the Monte Carlo standard error is 0.0035, so the band below leaves
    over 4 standard errors either side: fails < 1% of seeds by chance."""
    rng = np.random.default_rng(20261128)
    k = 4000
    counts = rng.poisson(per_rep, (k, reps)).clip(min=1)
    shares = rng.binomial(counts, p) / counts
    low, high = proportion_interval(shares.mean(axis=1), shares.std(axis=1, ddof=1), reps,
                                    counts.sum(axis=1))
    assert ((low >= 0) & (high <= 1)).all()
    coverage = float(np.mean((low <= p) & (p <= high)))
    assert 0.935 <= coverage <= 0.985, coverage


# --------------------------------------------------------------------------- edge runs
@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("no-households", {"households": 0}, "no requests measured"),
    ("nobody-on-duty", {"desk": 0, "tech": 0, "cadre": 0}, "off duty"),
    ("no-stage", {"sla": "sla:\n  - {name: none-set, respond_min: null, onsite_min: null, "
                         "finish_min: null, plan_min: null}\n"},
     "sets no stage target"),
])
def test_runs_measuring_nothing_give_tables_and_a_message(
    tmp_path: Path, name: str, kwargs: dict[str, Any], message: str
) -> None:
    out = tmp_path / "out"
    proc = run_cli("run", tiny(tmp_path, name, **kwargs), "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert message in " ".join(proc.stdout.split())
    for table in ("compliance.csv", "percentiles.csv", "utilisation.csv"):
        assert (out / table).is_file()
    percentiles = pd.read_csv(out / "percentiles.csv")
    assert {"stage", "group", "quantile", "mean", "reached"} <= set(percentiles.columns)
    if name == "no-households":
        assert percentiles.empty
        assert pd.read_csv(out / "compliance.csv").empty
    if name == "nobody-on-duty":  # nobody served: requests measured, every target missed
        comp = pd.read_csv(out / "compliance.csv")
        assert (comp.loc[comp["stage"] == "respond", "mean"] == 0).all()
        assert pd.read_csv(out / "utilisation.csv")["utilisation"].isna().all()
    proc = run_cli("report", out)
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.html").is_file()


def test_share_summaries_keep_their_intervals_inside_zero_and_one() -> None:
    """Shares near 100 %: the t interval of summarise passes 1, the share interval
    (Wilson on the effective sample size) bends inwards and matches it away from 0/1."""
    from sim.results import proportion_interval, summarise, summarise_shares

    per_rep = pd.DataFrame({
        "g": ["near"] * 3 + ["mid"] * 3 + ["none"],
        "share": [1.0, 0.8, 1.0, 0.5, 0.55, 0.45, np.nan],
        "decided": [10, 10, 12, 40, 40, 40, 0],
    })
    shares = summarise_shares(per_rep, ["g"], "share", "decided").set_index("g")
    plain = summarise(per_rep.dropna(), ["g"], "share").set_index("g")
    assert plain.loc["near", "ci_high"] > 1  # what the plain t interval does
    assert list(shares.index) == ["mid", "near"]  # no decided request: no row
    assert shares.loc["near", "ci_high"] <= 1
    assert (shares["ci_low"] <= shares["mean"]).all()
    assert (shares["mean"] <= shares["ci_high"]).all()
    low, high = proportion_interval(0.5, 0.05, 3, 120)
    assert shares.loc["mid", ["ci_low", "ci_high"]].tolist() == [float(low), float(high)]
    assert shares.loc["mid", "halfwidth"] == pytest.approx((high - low) / 2)
    assert shares.loc["mid", "halfwidth"] == pytest.approx(plain.loc["mid", "halfwidth"],
                                                           rel=0.05)
