"""Domain exceptions: each message names the file, key or branch at fault."""

__all__ = ["BadInputFile", "EmptySelection", "InvalidConfig", "InvalidInput", "MissingBranch", "MlhepError", "OptionalBranchWarning"]


class MlhepError(Exception):
    """Base class of every error mlhep raises on purpose."""


class InvalidConfig(MlhepError):
    """A configuration value is missing, of the wrong type or inconsistent."""


class InvalidInput(MlhepError, ValueError):
    """Arrays passed to a method have the wrong shape, NaN or infinite values, or bad weights
    (also a ValueError, as numpy's own errors of bad arrays are)."""


class BadInputFile(MlhepError):
    """An input file is missing, truncated, corrupted or empty."""


class MissingBranch(BadInputFile):
    """A required branch is absent from an input file."""


class EmptySelection(MlhepError):
    """A selection left no events where some are needed."""


class OptionalBranchWarning(UserWarning):
    """A branch that a feature uses is absent: the feature is skipped (NaN)."""

