"""Event generation: Pythia8, a parametric detector, FastJet jets, NanoAOD-like output."""

from mlhep.generate.detector import Detector
from mlhep.generate.nanoaod import open_events, read_branches, write_nanoaod
from mlhep.generate.sample import SampleSpec, build_events

__all__ = ["Detector", "SampleSpec", "build_events", "open_events", "read_branches", "write_nanoaod"]
