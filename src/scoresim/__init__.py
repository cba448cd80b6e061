"""scoresim: a simulator of social credit systems over a synthetic society, each run against
a twin society with no system. It simulates; it never ingests or publishes records about real
people."""

__version__ = "0.1.0"

from .kernel_cache import keyed_by_sources  # noqa: E402

with keyed_by_sources():  # every module with kernels is imported from here
    from .compare import Comparison
    from .ensemble import Ensemble, EnsembleResults
    from .results import Results
    from .scenario import Scenario, ScenarioError, presets
    from .scenario import load as load_scenario
    from .sensitivity_analysis import sensitivity
    from .sim import Sim
    from .sweeps import Sweep, sweep

__all__ = [
    "Sim",
    "Results",
    "Ensemble",
    "EnsembleResults",
    "Comparison",
    "Sweep",
    "sweep",
    "sensitivity",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "presets",
    "__version__",
]
