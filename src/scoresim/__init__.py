"""scoresim: a simulator of social credit systems over a synthetic society, each run against
a twin society with no system. It simulates; it never ingests or publishes records about real
people."""

__version__ = "0.1.0"

from .results import Results  # noqa: E402
from .scenario import Scenario, ScenarioError, presets  # noqa: E402
from .scenario import load as load_scenario
from .sim import Sim  # noqa: E402

__all__ = ["Sim", "Results", "Scenario", "ScenarioError", "load_scenario", "presets", "__version__"]
