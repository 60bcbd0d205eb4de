"""HEPData tables of mlhep's results (hepdata_lib), and the submission folder, validated by
hepdata-validator before it is written under its final name."""

import contextlib
import tempfile
import warnings
from pathlib import Path

import numpy as np

from mlhep.errors import InvalidInput
from mlhep.io import atomic_folder

__all__ = ["COLLISIONS", "covariance_table", "cutflow_table", "limits_table", "roc_table", "unfolded_table", "validate_submission", "write_submission"]

# what every table of a run describes: simulated proton-proton collisions at 13 TeV
COLLISIONS = {"cmenergies": [13000.0]}
_DIGITS = 8  # significant digits kept in the YAML (hepdata_lib's default is 5)
_SOURCE_LABELS = {"statistical": "stat", "detector": "sys,detector", "model": "sys,modelling"}


def _variable(name, values, *, independent, binned=False, units=""):
    from hepdata_lib import Variable

    variable = Variable(name, is_independent=independent, is_binned=binned, units=units, values=list(values), zero_uncertainties_warning=False)
    variable.digits = _DIGITS
    return variable


def _uncertainty(label, values, symmetric=True):
    from hepdata_lib import Uncertainty

    uncertainty = Uncertainty(label, is_symmetric=symmetric)
    uncertainty.values = [tuple(map(float, v)) for v in values] if not symmetric else [float(v) for v in values]
    return uncertainty


def _table(name, description, keywords, variables):
    from hepdata_lib import Table

    table = Table(name)
    table.description, table.location = description, "mlhep run"
    table.keywords = {**{key: list(value) for key, value in COLLISIONS.items()}, **keywords}
    for variable in variables:
        table.add_variable(variable)
    return table


def _bins(edges):
    edges = np.asarray(edges, dtype=np.float64)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def unfolded_table(name, observable, edges, fractions, covariances, units="", reaction="P P --> Z0 < MU+ MU- > JET X"):
    """One unfolded distribution as 1/N dN/dx per bin (``fractions``: unit-sum histogram), with
    each source of ``covariances`` ({statistical, detector, model[, total]}: (bins, bins) of the
    fractions) as its own uncertainty (the square root of its diagonal)."""
    widths = np.diff(np.asarray(edges, dtype=np.float64))
    density = np.asarray(fractions, dtype=np.float64) / widths
    per_unit = f"1/{units}" if units else ""
    dependent = _variable(f"1/N dN/d{observable}", density, independent=False, units=per_unit)
    dependent.add_qualifier("RE", reaction)
    dependent.add_qualifier("SQRT(S)", 13000, "GeV")
    evaluated = [source for source in _SOURCE_LABELS if source in covariances]
    for source in evaluated:
        dependent.add_uncertainty(_uncertainty(_SOURCE_LABELS[source], np.sqrt(np.diag(covariances[source])) / widths))
    keywords = {"observables": ["1/N dN/dX"], "reactions": [reaction], "phrases": ["Jet substructure", "Unfolding", "OmniFold"]}
    described = {"statistical": "data statistics (bootstrap)", "detector": "detector response", "model": "modelling (alternative simulation)"}
    description = f"The leading jet's {observable}, unfolded to particle level with OmniFold, normalized to unit area. Uncertainties: " + (", ".join(described[s] for s in evaluated) or "none evaluated") + "."
    return _table(name, description, keywords, [_variable(observable, _bins(edges), independent=True, binned=True, units=units), dependent])


def covariance_table(name, observable, edges, covariances, units=""):
    """The bin-to-bin covariance of an unfolded distribution (1/N dN/dx), per source and total:
    two binned independent variables (the rows' and the columns' bins)."""
    widths = np.diff(np.asarray(edges, dtype=np.float64))
    bins = _bins(edges)
    n = len(bins)
    rows, columns = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    per_unit = f"1/{units}^2" if units else ""
    variables = [_variable(observable, [bins[i] for i in rows], independent=True, binned=True, units=units), _variable(observable, [bins[j] for j in columns], independent=True, binned=True, units=units)]
    for source in ("total", *(s for s in _SOURCE_LABELS if s in covariances)):
        covariance = np.asarray(covariances[source], dtype=np.float64) / np.outer(widths, widths)
        variables.append(_variable(f"covariance ({source})", covariance[rows, columns], independent=False, units=per_unit))
    keywords = {"observables": ["COV"], "phrases": ["Covariance", "Unfolding"]}
    return _table(name, f"Covariance of the unfolded {observable} (1/N dN/d{observable}) between bins, per uncertainty source and in total.", keywords, variables)


def limits_table(name, points, reaction="P P --> W' --> X Y --> JETS"):
    """Upper limits at 95 % CL (CLs) on the signal strength of each signal point: ``points``, the
    entries of a fit's limits.json (sample, mass or null, upper_limit_exp [-2, -1, 0, +1, +2
    sigma], upper_limit_obs). Against the W' mass when every point has one, else against the
    signal sample."""
    by_mass = all(p.get("mass") is not None for p in points)
    points = sorted(points, key=lambda p: p["mass"]) if by_mass else list(points)
    expected = np.array([p["upper_limit_exp"] for p in points], dtype=np.float64)
    if expected.ndim != 2 or expected.shape[1] != 5:
        raise InvalidInput(f"limits: upper_limit_exp must hold 5 values (-2 to +2 sigma) per point, got shape {expected.shape}")
    median = expected[:, 2]
    exp = _variable("Expected upper limit on mu", median, independent=False)
    exp.add_uncertainty(_uncertainty("1 sigma", np.stack([expected[:, 1] - median, expected[:, 3] - median], axis=1), symmetric=False))
    exp.add_uncertainty(_uncertainty("2 sigma", np.stack([expected[:, 0] - median, expected[:, 4] - median], axis=1), symmetric=False))
    obs = _variable("Observed upper limit on mu", [float(p["upper_limit_obs"]) for p in points], independent=False)
    for variable in (exp, obs):
        variable.add_qualifier("CL", "95%")
        variable.add_qualifier("RE", reaction)
    keywords = {"observables": ["SIG"], "reactions": [reaction], "phrases": ["Limits", "W'", "Dijet resonance"]}
    axis = _variable("W' mass", [p["mass"] for p in points], independent=True, units="GeV") if by_mass else _variable("signal sample", [str(p["sample"]) for p in points], independent=True)
    description = "Expected (with its 68 % and 95 % bands) and observed 95 % CL upper limits (CLs) on the signal strength mu" + (" against the W' mass" if by_mass else " of each signal sample")
    description += "; observed: the fit to the search's pseudo-data (the background expectation with the signal injected at the configured mu)."
    return _table(name, description, keywords, [axis, exp, obs])


def cutflow_table(name, channel, cutflows):
    """The events passing each selection step of ``channel``: ``cutflows`` = {sample: {step:
    weighted events}}, the steps in order (the same for every sample of a channel)."""
    steps = list(next(iter(cutflows.values())))
    for sample, flow in cutflows.items():
        if list(flow) != steps:
            raise InvalidInput(f"cutflow of {sample}: steps {list(flow)} differ from the channel's {steps}")
    variables = [_variable("selection step", steps, independent=True)]
    variables += [_variable(f"{sample}: events", list(flow.values()), independent=False) for sample, flow in cutflows.items()]
    return _table(name, f"Weighted events after each selection step of the {channel} channel, per sample.", {"observables": ["N"], "phrases": ["Cutflow"]}, variables)


def roc_table(name, curves, efficiencies):
    """The ROC curve of each tagger: its background efficiency at the signal ``efficiencies``
    (``curves`` = {tagger: background efficiencies}; the rejection is its inverse)."""
    variables = [_variable("signal efficiency", efficiencies, independent=True)]
    variables += [_variable(f"{tagger}: background efficiency", values, independent=False) for tagger, values in curves.items()]
    return _table(name, "Background efficiency of each jet tagger against its signal efficiency, on the test split (background rejection: its inverse).", {"observables": ["EFF"], "phrases": ["Jet tagging", "ROC"]}, variables)


def validate_submission(folder, name=None):
    """Validate a submission folder with hepdata-validator; InvalidInput naming it (or ``name``)
    and listing the validator's messages."""
    from hepdata_validator.full_submission_validator import FullSubmissionValidator

    validator = FullSubmissionValidator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the validator leaves the YAML files it reads to be closed by the garbage collector
        valid = validator.validate(directory=str(folder))
    if not valid:
        messages = [f"{Path(file).name}: {m.message}" for file, found in validator.get_messages().items() for m in found]
        raise InvalidInput(f"HEPData submission {name or folder} is not valid: " + "; ".join(messages))


def write_submission(tables, path, comment):
    """The submission (submission.yaml and one YAML file per table) in the folder ``path``, built
    beside it and validated before it replaces ``path``: a failure leaves no folder behind."""
    from hepdata_lib import Submission

    if not tables:
        raise InvalidInput(f"{path}: no tables to publish")
    submission = Submission()
    submission.comment = comment
    for table in tables:
        submission.add_table(table)
    path = Path(path).absolute()
    with atomic_folder(path) as built, tempfile.TemporaryDirectory() as elsewhere, contextlib.chdir(elsewhere):
        submission.create_files(str(built), validate=False)  # it also writes submission.tar.gz where it runs
        validate_submission(built, path)
    return path
