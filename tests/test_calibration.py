"""Calibration against the real request log (Baltimore 311 sample, read in place).

The presets' hour-of-day and weekday profiles come from :mod:`sim.calibrate.presets`
(the log read and cleaned as ``sim calibrate --format baltimore311`` does); these tests
check that they still match what the data give, and that
the arrival generator turns them back into the data's hour and weekday distributions
(chi-square test of homogeneity between simulated and real counts).  The data is not part
of the repository: without it (outside this project's machines) the tests are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.arrivals import generate
from sim.calibrate import presets
from sim.calibrate.profiles import relative_weights
from sim.config import community_presets, scenario_from_dict
from sim.rng import Streams

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "baltimore311" / "311_sample.csv"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"real request log not at {DATA}")


@pytest.fixture(scope="module")
def created() -> pd.Series:
    """Local creation times of the requests the Baltimore mapping keeps."""
    return presets.requests(DATA)["created"]


def test_presets_match_what_the_data_gives(created: pd.Series) -> None:
    hours = relative_weights(created.dt.hour, 24)
    days = relative_weights(created.dt.day_of_week, 7)
    park = community_presets()["industrial_park"]
    assert park["hour_profile"] == hours
    assert park["weekday_profile"] == days
    # residential types use the same hours and a weekday profile halfway to flat
    home = community_presets()["new_estate"]["weekday_profile"]
    assert np.allclose(home, (np.array(days) + 1) / 2, atol=0.006)


@pytest.mark.statistical
def test_generated_arrivals_reproduce_the_real_hour_and_weekday_mix(
    created: pd.Series, stat_seed: int
) -> None:
    park = community_presets()["industrial_park"]
    sc = scenario_from_dict({
        "run": {"horizon_days": 364, "seed": stat_seed},
        "categories": {"request": {"respond_time": {"dist": "fixed", "value_min": 1},
                                   "onsite_by": []}},
        "communities": [{
            "name": "c", "type": "custom", "households": 1,
            "requests_per_household_per_day": 80.0,
            "hour_profile": park["hour_profile"], "weekday_profile": park["weekday_profile"],
            "channel_mix": {"phone": 1.0}, "category_mix": {"request": 1.0},
            "travel_time": {"dist": "fixed", "value_min": 0},
        }],
        "staff": [{"name": "d", "kind": "service_desk",
                   "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}]}],
    }, "<calibration>")
    req = generate(sc, list(sc.expanded_communities()), Streams(stat_seed, 0))
    hour = (req.raised_min // 60).astype(int)
    sim_hours = np.bincount(hour % 24, minlength=24)
    sim_days = np.bincount((hour // 24) % 7, minlength=7)
    real_hours = np.bincount(created.dt.hour, minlength=24)
    real_days = np.bincount(created.dt.day_of_week, minlength=7)
    for sim_counts, real in ((sim_hours, real_hours), (sim_days, real_days)):
        _, p, _, _ = stats.chi2_contingency(np.vstack([sim_counts, real]))
        # two tests at 0.1% each: a correct generator fails for < 0.2% of seeds
        assert p > 0.001, (sim_counts, real, p)
    # and a flat profile would be rejected: the test has power
    flat = np.full(24, sim_hours.sum() / 24)
    _, p_flat, _, _ = stats.chi2_contingency(np.vstack([flat, real_hours]))
    assert p_flat < 1e-6
