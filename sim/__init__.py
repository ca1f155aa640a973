"""Discrete-event simulation of residents' service requests under the "2341" rule.

Public API::

    load_scenario(path)                      -> Scenario
    simulate(scenario, seed, replication)    -> SimulationResult   (one replication)
    replicate(scenario, replications, ...)   -> ExperimentResult   (with CIs)
    sweep(scenario, levers, ...)             -> SweepResult        (staffing grids)
    optimize(scenario, levers, targets, ...) -> OptimizeResult     (cheapest staffing)
    compare(base, alternative, ...)          -> DataFrame          (paired differences)

The functions live in the modules ``sim.sweeps``, ``sim.optimiser`` and ``sim.comparison``.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

from sim.config import Scenario, ScenarioError, load_scenario

if TYPE_CHECKING:
    from sim.comparison import compare
    from sim.experiment import replicate
    from sim.model import simulate
    from sim.optimiser import OptimizeResult, optimize
    from sim.results import ExperimentResult, SimulationResult
    from sim.sweeps import SweepResult, sweep

# Heavy parts (numpy/pandas/scipy/simpy) load on first use, so `sim validate` and
# `sim --help` start fast.
_LAZY = {
    "compare": "sim.comparison",
    "ExperimentResult": "sim.results",
    "replicate": "sim.experiment",
    "simulate": "sim.model",
    "OptimizeResult": "sim.optimiser",
    "optimize": "sim.optimiser",
    "SimulationResult": "sim.results",
    "SweepResult": "sim.sweeps",
    "sweep": "sim.sweeps",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


try:
    __version__ = _version("sim2341")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ExperimentResult",
    "OptimizeResult",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "SweepResult",
    "compare",
    "load_scenario",
    "optimize",
    "replicate",
    "simulate",
    "sweep",
]
