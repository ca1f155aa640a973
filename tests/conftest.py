import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

DEFAULT_STAT_SEED = 7


@pytest.fixture
def stat_seed() -> int:
    """Seed of a statistical test: ``SIM_TEST_SEED`` if set (scripts/seed_robustness.py
    sets it), else a fixed default so the regular suite is reproducible."""
    return int(os.environ.get("SIM_TEST_SEED", DEFAULT_STAT_SEED))
