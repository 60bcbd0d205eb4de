"""Neural simulation-based inference: an unbinned likelihood of a signal strength from classifier
density ratios (mlhep.ml.ratio), with nuisance parameters, and a toy with an exact likelihood."""

from mlhep.nsbi.likelihood import Fit, IntervalNotFound, NSBILikelihood, Process, ProfileScan, interpolate, interval, profile_interval
from mlhep.nsbi.toy import PROCESSES, GaussianOnExponential

__all__ = [
    "Fit",
    "GaussianOnExponential",
    "IntervalNotFound",
    "NSBILikelihood",
    "PROCESSES",
    "Process",
    "ProfileScan",
    "interpolate",
    "interval",
    "profile_interval",
]
