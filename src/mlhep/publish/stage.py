"""The hepdata stage: a finished run's results as a validated HEPData submission: the unfolded
distributions with their uncertainties and covariances, the limits against the W' mass, the
cutflows and the taggers' ROC curves."""

import contextlib
import csv
import json
import logging
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import uproot

from mlhep.errors import BadInputFile, MlhepError
from mlhep.ml.metrics import rejection
from mlhep.publish.hepdata import covariance_table, cutflow_table, limits_table, roc_table, unfolded_table, write_submission
from mlhep.unfold.covariance import source_covariances
from mlhep.unfold.metrics import normalized_histogram

__all__ = ["ROC_EFFICIENCIES", "build_hepdata", "record_files", "table_names", "unfolded_histograms"]

log = logging.getLogger(__name__)

ROC_EFFICIENCIES = np.round(np.arange(0.05, 0.951, 0.05), 2)
_UNITS = {"mass": "GeV"}


def table_names(observables=(), analyses=(), channels=(), taggers=False):
    """The record's tables, in order: each unfolded observable and its covariance, each fit's
    limits, each channel's cutflow, and the taggers' ROC curves."""
    names = [name for observable in observables for name in (f"Unfolded {observable}", f"Covariance of unfolded {observable}")]
    names += [f"Limits {analysis}" for analysis in analyses] + [f"Cutflow {channel}" for channel in channels]
    return names + (["Tagger ROC curves"] if taggers else [])


def record_files(**tables):
    """The files of the record with ``tables`` (table_names' arguments): submission.yaml and one
    YAML file per table, named as hepdata_lib names them."""
    return ["submission.yaml", *(f"{name.lower().replace(' ', '_')}.yaml" for name in table_names(**tables))]


@contextlib.contextmanager
def _reading(path, what):
    """Errors of reading or using the file ``path`` (``what`` it should be) as BadInputFile
    naming it."""
    try:
        yield
    except FileNotFoundError as err:
        raise BadInputFile(f"{path}: missing ({what})") from err
    except (OSError, KeyError, IndexError, TypeError, ValueError, MlhepError) as err:
        raise BadInputFile(f"{path}: not a valid {what}: {err}") from err


def _weights_file(path):
    with _reading(path, "mlhep weights file"):
        table = pq.read_table(path)
        return table, json.loads(table.schema.metadata[b"mlhep"])


def unfolded_histograms(weights_path, edges, model_path=None):
    """Each unfolded observable's unit-sum histograms, recomputed from the published weights:
    {observable: {"nominal", "bootstrap": [...], "systematics": {variation: ...}, "model": array
    or None}}, ``edges``: {observable: bin edges}."""
    table, meta = _weights_file(weights_path)
    model = _weights_file(model_path)[0] if model_path else None
    names = meta["weights"]
    bootstrap = [name for name in names if name.startswith("bootstrap_")]
    systematics = [name for name in names if name != "nominal" and not name.startswith(("bootstrap_", "ensemble_"))]

    def histogram(source, column, observable):
        passing = source.column("pass_truth").to_numpy()
        values = source.column(f"truth_{observable}").to_numpy()[passing]
        return normalized_histogram(values, edges[observable], source.column(column).to_numpy()[passing])

    out = {}
    for observable in meta["observables"]:
        if observable not in edges:
            raise BadInputFile(f"{weights_path}: observable {observable} has no unfolded histogram beside it (unfolded.root)")
        with _reading(weights_path, "mlhep weights file"):
            out[observable] = {
                "nominal": histogram(table, "nominal", observable),
                "bootstrap": [histogram(table, name, observable) for name in bootstrap],
                "systematics": {name: histogram(table, name, observable) for name in systematics},
            }
        with _reading(model_path, "mlhep weights file of the alternative simulation"):
            out[observable]["model"] = None if model is None else histogram(model, "model", observable)
    log.info("unfolded histograms of %s from %s: %d bootstrap replicas, systematics %s, modelling %s", list(out), weights_path, len(bootstrap), systematics, bool(model_path))
    return out


def _unfolding_tables(unfolded_root, weights_path, model_path):
    with _reading(unfolded_root, "unfolded.root of the unfold stage"), uproot.open(unfolded_root) as file:
        edges = {key.split("/")[1]: file[key].axis().edges() for key in file.keys(cycle=False) if key.endswith("/omnifold")}
    tables = []
    for observable, histograms in unfolded_histograms(weights_path, edges, model_path).items():
        covariances = source_covariances(histograms["nominal"], histograms["bootstrap"], histograms["systematics"], histograms["model"])
        units = _UNITS.get(observable, "")
        unfolded_name, covariance_name = table_names(observables=[observable])
        tables.append(unfolded_table(unfolded_name, observable, edges[observable], histograms["nominal"], covariances, units))
        tables.append(covariance_table(covariance_name, observable, edges[observable], covariances, units))
    return tables




def _cutflow_tables(cutflow_csv):
    flows = {}  # channel: {sample: {step: weighted}}
    with _reading(cutflow_csv, "cutflow table"), open(cutflow_csv, newline="") as file:
        for row in csv.DictReader(file):
            steps = flows.setdefault(row["channel"], {}).setdefault(row["sample"], {})
            if row["step"] in steps:
                raise ValueError(f"sample {row['sample']} has step {row['step']} twice")
            steps[row["step"]] = float(row["weighted"])
            if not np.isfinite(steps[row["step"]]):
                raise ValueError(f"sample {row['sample']}, step {row['step']}: weighted events {row['weighted']}")
        if not flows:
            raise ValueError("no rows")
        return [cutflow_table(*table_names(channels=[channel]), channel, samples) for channel, samples in sorted(flows.items())]


def _roc_table(tagger_folders):
    curves = {}
    for folder in tagger_folders:
        path = Path(folder) / "scores.parquet"
        with _reading(path, "tagger scores file (label, score)"):
            scores = pq.read_table(path, columns=["label", "score"])
            labels, values = scores.column("label").to_numpy(), scores.column("score").to_numpy()
            curves[Path(folder).name] = [1.0 / rejection(labels, values, efficiency) for efficiency in ROC_EFFICIENCIES]
    return roc_table(*table_names(taggers=True), curves, ROC_EFFICIENCIES)


def build_hepdata(out, *, unfolded_root=None, weights=None, model_weights=None, limits=(), cutflow=None, taggers=()):
    """Write the HEPData submission of a run's results to the folder ``out``: the unfolded
    distributions and their covariances (from the weights file, with the model_weights file
    for the modelling uncertainty), one limits table per fit (``limits``: limits.json paths),
    the cutflow of each channel (``cutflow``: results/cutflow/cutflow.csv) and the ROC curves
    of the tagger folders ``taggers``. Validated with hepdata-validator before it is written."""
    tables = []
    if unfolded_root:
        tables += _unfolding_tables(unfolded_root, weights, model_weights)
    for path in limits:
        with _reading(path, "limits.json of a fit"):
            points = json.loads(Path(path).read_text())
            if not isinstance(points, list) or not points:
                raise ValueError("expected a list of limit points")
            tables.append(limits_table(*table_names(analyses=[Path(path).parent.name]), points))
    if cutflow:
        tables += _cutflow_tables(cutflow)
    if taggers:
        tables.append(_roc_table(taggers))
    path = write_submission(tables, out, "mlhep: simulated proton-proton collisions at 13 TeV (Pythia 8 and a parametric detector); not a measurement.")
    log.info("wrote %d HEPData tables to %s", len(tables), path)
    return path
