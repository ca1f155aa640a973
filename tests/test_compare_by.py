"""sim compare --by: paired differences per hour, category, channel, community; refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import sim
from sim.cli import main
from sim.comparison import ComparisonError, compare
from sim.config import scenario_from_dict
from tests.decide_scenarios import night_disputes, night_disputes_dict


def _with_night_cadre() -> sim.Scenario:
    d = night_disputes_dict()
    d["staff"][2]["shifts"].append({"name": "night", "start_hour": 18, "end_hour": 8,
                                    "headcount": 4})
    return scenario_from_dict(d)


@pytest.fixture(scope="module")
def by_category() -> object:
    return compare(night_disputes(), _with_night_cadre(), replications=3, jobs=1,
                   by="category")


def test_by_category_isolates_the_category_served(by_category) -> None:  # type: ignore[no-untyped-def]
    t = by_category.set_index(["category", "stage"])
    # a night cadre only serves disputes: repairs are untouched, replication by replication
    assert t.loc[("repair", "onsite"), "difference"] == 0
    assert t.loc[("repair", "onsite"), "halfwidth"] == 0
    assert t.loc[("dispute", "onsite"), "ci_low"] > 0


def test_by_hour_shows_the_night() -> None:
    t = compare(night_disputes(), _with_night_cadre(), replications=3, jobs=1, by="hour")
    onsite = t[t["stage"] == "onsite"].set_index("hour")["difference"]
    assert list(onsite.index) == [str(h) for h in range(24)]  # hours in order
    night = [str(h) for h in (20, 21, 22, 23, 0, 1, 2, 3, 4, 5)]
    day = [str(h) for h in range(10, 17)]
    assert onsite[night].mean() > 0.3  # half the requests are disputes, now served
    assert onsite[night].min() >= 0
    assert onsite[day].abs().max() < 0.05  # the day cadres were there already


def test_itself_by_community_is_zero() -> None:
    sc = night_disputes(horizon_days=2)
    t = compare(sc, sc, replications=2, jobs=1, by="community")
    assert set(t["community"]) == {"c1"}
    assert (t["difference"] == 0).all()


def test_different_communities_are_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    d = night_disputes_dict()
    other = night_disputes_dict()
    other["communities"][0]["name"] = "c9"
    with pytest.raises(ComparisonError, match="only in the base: c1; only in the "
                                              "alternative: c9"):
        compare(scenario_from_dict(d), scenario_from_dict(other), replications=2)
    fa, fb = tmp_path / "a.yaml", tmp_path / "b.yaml"
    fa.write_text(yaml.safe_dump(d))
    fb.write_text(yaml.safe_dump(other))
    with pytest.raises(SystemExit) as e:
        main(["compare", str(fa), str(fb), "-n", "2", "--by", "hour"])
    assert e.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot compare: the scenarios' "
                                                   "communities differ")
    with pytest.raises(SystemExit) as e:
        main(["compare", str(fa), str(fa), "-n", "2", "--by", "colour"])
    assert e.value.code == 2


def test_compare_reports_each_finished_replication_of_both_scenarios() -> None:
    seen: list[int] = []
    table = compare(night_disputes(), _with_night_cadre(), replications=3, jobs=1,
                    on_replication=seen.append)
    assert seen == [1, 2, 3, 4, 5, 6]  # 3 of each, counted as they finish
    assert (table["replications"] == 3).all()
