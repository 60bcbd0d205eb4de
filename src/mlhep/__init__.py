"""mlhep: machine learning for collider physics analyses, from Pythia8 events to pyhf results."""

__version__ = "0.1.0"
