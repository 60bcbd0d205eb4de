"""The unfolding stage: OmniFold and IBU of the Z+jet observables, uncertainties, metrics, plots."""

import json
import logging
import time
from dataclasses import asdict, dataclass, field

import awkward as ak
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlhep import __version__, seeds
from mlhep.columns import padded_constituents, read_columns
from mlhep.errors import EmptySelection
from mlhep.io import atomic_path, json_sha256, write_hists, write_json
from mlhep.ml.training import TrainConfig
from mlhep.process.common import new_hist
from mlhep.process.zjets import OBSERVABLES
from mlhep.unfold.covariance import SOURCES, source_covariances
from mlhep.unfold.ibu import ibu, ibu_bootstrap, response_matrix
from mlhep.unfold.metrics import bootstrap_weights, normalized_histogram, triangular_discriminator
from mlhep.unfold.omnifold import omnifold
from mlhep.unfold.scorecard import NEVER_UNFOLDED, Scorecard

__all__ = ["ZJetsEvents", "load_events", "observable_edges", "omnifold_options", "run_unfolding", "unfold_events"]

log = logging.getLogger(__name__)

IBU_REPLICAS = 50  # bootstrap replicas of IBU (cheap: no training)
LOG_OFFSET = 1e-3  # log(x + LOG_OFFSET) keeps x = 0 (the width of a one-particle jet) finite


@dataclass
class ZJetsEvents:
    """Observables of one Z+jets sample: (n, d) reco and truth, selection flags, generator
    weights, and what OmniFold's networks see at each level (``reco_inputs``, ``truth_inputs``):
    the observables and the ``extra_inputs`` (jet kinematics), those named in ``log_observables``
    as logarithms, or the leading jet's (n, particles, 3) constituents; ``never``: the truth
    columns of NEVER_UNFOLDED that the file has, to judge the weights on."""

    event: np.ndarray
    reco: np.ndarray
    truth: np.ndarray
    pass_reco: np.ndarray
    pass_truth: np.ndarray
    weight: np.ndarray
    reco_inputs: np.ndarray
    truth_inputs: np.ndarray
    never: dict = field(default_factory=dict)


def _column_names(observables, variations, max_particles):
    """The columns to read; ``observables`` here are every per-jet quantity, network inputs too."""
    suffixes = ["" if variation == "nominal" else f"_{variation}" for variation in variations]
    names = [f"{o}_reco{suffix}" for suffix in suffixes for o in observables] + [f"{o}_truth" for o in observables] + [f"pass_reco{suffix}" for suffix in suffixes] + ["pass_truth", "weight", "event"]
    if max_particles:
        names += [f"const_{quantity}_{level}" for level in ("reco", "truth") for quantity in ("pt", "deta", "dphi")]
    return names


def read_events(columns_path, observables, variations=("nominal",), max_particles=0, log_observables=(), extra_inputs=()):
    """{variation: ZJetsEvents} of one Z+jets sample, its file read once (see load_events)."""
    names = _column_names([*observables, *extra_inputs], variations, max_particles)
    columns = read_columns(columns_path, names, optional=[f"{name}_truth" for name in NEVER_UNFOLDED])
    return {variation: _events(columns, columns_path, observables, variation, max_particles, log_observables, extra_inputs) for variation in variations}


def load_events(columns_path, observables, variation="nominal", max_particles=0, log_observables=(), extra_inputs=()):
    """The Z+jets columns of ``columns_path`` with the reco observables of ``variation``
    (nominal, jes_up, jes_down, jer). The network inputs are the observables followed by
    ``extra_inputs`` (quantities of the same jet the networks see but no histogram unfolds,
    such as its pT and eta), those in ``log_observables`` as log(x + LOG_OFFSET), or with
    ``max_particles`` the hardest constituents of the leading jet (momentum fraction, delta eta,
    delta phi; a jet energy scale leaves them as they are)."""
    return read_events(columns_path, observables, (variation,), max_particles, log_observables, extra_inputs)[variation]


def _events(columns, columns_path, observables, variation, max_particles, log_observables, extra_inputs):
    suffix = "" if variation == "nominal" else f"_{variation}"
    never = [name for name in NEVER_UNFOLDED if f"{name}_truth" in columns.fields]
    get = lambda name: ak.to_numpy(columns[name])
    stacked = lambda names, pattern: np.stack([get(pattern.format(o)) for o in names], axis=1).astype(np.float64)
    reco, truth = stacked(observables, f"{{}}_reco{suffix}"), stacked(observables, "{}_truth")
    if max_particles:
        inputs = [padded_constituents(columns, level, max_particles, columns_path) for level in ("reco", "truth")]
    else:
        names = [*observables, *extra_inputs]
        logged = [names.index(name) for name in log_observables]
        inputs = [stacked(names, f"{{}}_reco{suffix}"), stacked(names, "{}_truth")]
        for values in inputs:
            values[:, logged] = np.log(values[:, logged] + LOG_OFFSET)
    events = ZJetsEvents(
        event=get("event"),
        reco=reco,
        truth=truth,
        pass_reco=get(f"pass_reco{suffix}").astype(bool),
        pass_truth=get("pass_truth").astype(bool),
        weight=get("weight").astype(np.float64),
        reco_inputs=inputs[0],
        truth_inputs=inputs[1],
        never={name: get(f"{name}_truth").astype(np.float64) for name in never},
    )
    # an observable that cannot be computed for a selected jet (ln rho of a zero soft-drop mass)
    # fails that level: OmniFold needs finite features
    finite = lambda values: np.all(np.isfinite(values.reshape(len(values), -1)), axis=1)
    events.pass_reco &= finite(events.reco) & finite(events.reco_inputs)
    events.pass_truth &= finite(events.truth) & finite(events.truth_inputs)
    if not events.pass_reco.any():
        raise EmptySelection(f"{columns_path}: no event passes the reco selection ({variation})")
    return events


def observable_edges(observable, bins):
    """The bin edges of ``observable``: ``bins`` equal bins over its processing histogram range."""
    _, low, high = OBSERVABLES[observable]
    return np.linspace(low, high, bins + 1)


def omnifold_options(settings, seed):
    """The keyword arguments of mlhep.unfold.omnifold from the ``unfolding`` config section."""
    return {
        "iterations": settings["iterations"],
        "hidden": tuple(settings["hidden"]),
        "train": TrainConfig(**{**settings["train"], "seed": seed}),
        "ensemble": settings["ensemble"],
        "constituents": settings.get("constituents"),
    }


def unfold_events(sim, data, options, data_weights=None, seed=0):
    """OmniFold of ``data`` (ZJetsEvents) with ``sim``, on their network inputs; ``options`` from
    omnifold_options, ``data_weights`` multiplying the data's weights (a bootstrap replica)."""
    selected = data.pass_reco
    weights = data.weight[selected] * (1.0 if data_weights is None else data_weights)
    return omnifold(sim.reco_inputs, sim.truth_inputs, data.reco_inputs[selected], sim_weights=sim.weight, data_weights=weights, pass_reco=sim.pass_reco, pass_truth=sim.pass_truth, seed=seed, **options)


WEIGHTS_METADATA_KEY = b"mlhep"


def _weights_table(events, weights, path, observables, settings, options):
    """Per event of ``events`` (a simulation): event number, generator weight, pass_truth, each
    unfolded observable at particle level (``truth_{name}``, NaN where the event fails the
    truth selection) and each named set of OmniFold weights times the generator weight; the
    schema's metadata (key ``mlhep``, JSON) holds what made them. docs/UNFOLDING.md has the
    schema, and how any unfolded histogram follows from this file alone."""
    truth = np.where(events.pass_truth[:, None], events.truth, np.nan)
    frame = pd.DataFrame({
        "event": events.event, "generator_weight": events.weight, "pass_truth": events.pass_truth,
        **{f"truth_{name}": truth[:, column] for column, name in enumerate(observables)},
        **{name: values * events.weight for name, values in weights.items()},
    })
    network = {key: (asdict(value) if key == "train" else value) for key, value in options.items()}
    metadata = {
        "mlhep_version": __version__,
        "settings_sha256": json_sha256(settings),
        "iterations": options["iterations"], "network": network, "observables": list(observables),
        "weights": [name for name in weights], "bins": settings["bins"],
    }
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**table.schema.metadata, WEIGHTS_METADATA_KEY: json.dumps(metadata, default=str).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _all_weights(settings, sim, data, options, seed, load_variation):
    """The nominal OmniFold result and every named set of weights of the simulated events:
    nominal, ensemble_k (the last step with network k alone), bootstrap_k, and one per systematic."""
    nominal = unfold_events(sim, data, options, seed=seed)
    weights = {"nominal": nominal.weights}
    if settings["ensemble"] > 1:
        weights.update({f"ensemble_{k}": member for k, member in enumerate(nominal.member_weights)})
    replicas = bootstrap_weights(int(data.pass_reco.sum()), settings["bootstrap"], seed=seed) if settings["bootstrap"] else []
    for index, poisson in enumerate(replicas):
        weights[f"bootstrap_{index}"] = unfold_events(sim, data, options, poisson, seed=seeds.integer("training", seed, "bootstrap", index)).weights
    for variation in settings["systematics"]:
        weights[variation] = unfold_events(load_variation(variation), data, options, seed=seed).weights
    return nominal, weights


def _observable_results(settings, column, sim, data, weights, seed, alternative=None, model_weights=None):
    """One observable's histograms of unit sum {truth, prior, omnifold, ibu: (values, uncertainty)}
    and the size of each uncertainty source (the sum over bins of its absolute shift)."""
    observable = settings["observables"][column]
    edges, selected, bootstrap = observable_edges(observable, settings["bins"]), data.pass_reco, [name for name in weights if name.startswith("bootstrap_")]
    at_truth = lambda events, w: normalized_histogram(events.truth[events.pass_truth, column], edges, w[events.pass_truth])
    truth, prior = at_truth(data, data.weight), at_truth(sim, sim.weight)
    unfolded = {name: at_truth(sim, sim.weight * w) for name, w in weights.items()}
    response = response_matrix(sim.reco[:, column], sim.truth[:, column], sim.pass_reco, sim.pass_truth, edges, sim.weight)
    data_hist, _ = np.histogram(data.reco[selected, column], edges, weights=data.weight[selected])
    ibu_values = ibu(data_hist, response, settings["ibu_iterations"])
    ibu_replicas = ibu_bootstrap(data.reco[selected, column], response, data_weights=data.weight[selected], replicas=IBU_REPLICAS, seed=seed, iterations=settings["ibu_iterations"])
    ibu_stat = np.std([r / r.sum() for r in ibu_replicas], axis=0)
    model = None if alternative is None else at_truth(alternative, alternative.weight * model_weights)
    covariances = source_covariances(unfolded["nominal"], [unfolded[name] for name in bootstrap], {v: unfolded[v] for v in settings["systematics"]}, model)
    per_bin = {source: np.sqrt(np.diag(covariance)) for source, covariance in covariances.items()}
    results = {"truth": (truth, 0.0), "prior": (prior, 0.0), "omnifold": (unfolded["nominal"], per_bin["total"]), "ibu": (ibu_values / ibu_values.sum(), ibu_stat)}
    sizes = {source: float(np.sum(per_bin[source])) if source in per_bin else 0.0 for source in SOURCES}
    return edges, results, sizes


def run_unfolding(settings, simulation_path, data_path, seed, out_dir, plot_dir, alternative_path=None):
    """Unfold the data's reco observables (or, with ``constituents``, its leading jets'
    constituents) with the simulation, its truth the answer; both samples' columns in memory.

    Writes to ``out_dir``: weights.parquet (docs/UNFOLDING.md: per simulated event its number,
    generator weight, pass_truth, observables at particle level and the weights x generator
    weight: nominal, ensemble_k (network k alone), bootstrap_k and one per systematic);
    with ``alternative_path`` (another simulation's columns) the data are unfolded with it too:
    its weights go to model_weights.parquet (per event of that sample, column "model") and the
    difference of its unfolded histograms to the nominal ones is the model systematic;
    unfolded.root (per observable: truth, prior, omnifold, ibu histograms of unit sum, the
    variances holding the squared total uncertainty) and metrics.json (per observable the triangular
    discriminators, the Scorecard's ``unfolded_never`` and ``auc_joint``); plots to ``plot_dir``.
    """
    from mlhep.unfold.plots import plot_unfolded

    observables, network = settings["observables"], settings.get("constituents")  # network None: OmniFold on the observables
    options = omnifold_options(settings, seed)
    extra, particles = ((), network["max_particles"]) if network else (settings.get("extra_inputs", ()), 0)
    load = lambda path, variations=("nominal",): read_events(path, observables, variations, particles, settings["log_observables"], extra)
    simulation, data = load(simulation_path, ("nominal", *settings["systematics"])), load(data_path)["nominal"]
    sim = simulation["nominal"]
    started = time.perf_counter()
    nominal, weights = _all_weights(settings, sim, data, options, seed, simulation.get)
    _weights_table(sim, weights, f"{out_dir}/weights.parquet", observables, settings, options)
    alternative = model_weights = None
    if alternative_path is not None:
        alternative = load(alternative_path)["nominal"]
        model_weights = unfold_events(alternative, data, options, seed=seed).weights
        _weights_table(alternative, {"model": model_weights}, f"{out_dir}/model_weights.parquet", observables, settings, options)
    omnifold_s = time.perf_counter() - started
    metrics, uncertainties, hists = {}, {}, {}
    for column, observable in enumerate(observables):
        edges, results, uncertainties[observable] = _observable_results(settings, column, sim, data, weights, seed, alternative, model_weights)
        for name, (values, uncertainty) in results.items():
            histogram = new_hist(observable, settings["bins"], edges[0], edges[-1])
            histogram.view().value = values
            histogram.view().variance = np.broadcast_to(np.square(uncertainty), values.shape)
            hists[("unfolded", observable, name)] = histogram
        metrics[observable] = {name: triangular_discriminator(results[name][0], results["truth"][0]) for name in ("omnifold", "ibu", "prior")}
        plot_unfolded(edges, results, observable, f"{plot_dir}/{observable}")
    write_hists(hists, f"{out_dir}/unfolded.root")
    card = Scorecard(sim, data, observables, {o: observable_edges(o, settings["bins"]) for o in observables}, settings["ibu_iterations"], seed)
    full = card.judge(nominal.weights)
    summary = {
        "observables": metrics,
        "uncertainties": uncertainties,
        "unfolded_never": full["unfolded_never"],  # those in extra_inputs were network inputs
        "extra_inputs": list(extra), "auc_joint": full["auc_joint"],
        "iterations": settings["iterations"],
        "seconds_per_iteration": float(np.mean(nominal.seconds_per_iteration)),
        "nominal_s": float(np.sum(nominal.seconds_per_iteration)),
        "omnifold_s": omnifold_s,
        "omnifold_runs": len(weights) - (settings["ensemble"] if settings["ensemble"] > 1 else 0) + (alternative is not None),
        "simulation_events": int(len(sim.event)),
        "data_events": int(data.pass_reco.sum()),
    }
    write_json(summary, f"{out_dir}/metrics.json")
    log.info("unfolded %d data events with %d simulated ones (%s): triangular discriminators x1e3 %s", summary["data_events"], summary["simulation_events"], simulation_path, summary["observables"])
    return summary
