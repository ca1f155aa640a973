"""Discrete-event simulation of residents' service requests under the "2341" rule."""

from sim.config import Scenario, ScenarioError, load_scenario
from sim.model import simulate
from sim.records import SimulationResult

__version__ = "0.1.0"
__all__ = ["Scenario", "ScenarioError", "SimulationResult", "load_scenario", "simulate"]
