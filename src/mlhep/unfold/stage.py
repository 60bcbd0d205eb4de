"""The unfolding stage: OmniFold and IBU of the Z+jet observables, uncertainties, metrics, plots."""

import time
from dataclasses import dataclass

import awkward as ak
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from mlhep.errors import BadInputFile, EmptySelection
from mlhep.io import atomic_path, write_json
from mlhep.ml.data import padded_constituents
from mlhep.ml.training import TrainConfig
from mlhep.process.common import new_hist
from mlhep.process.run import write_hists
from mlhep.process.zjets import OBSERVABLES
from mlhep.unfold.ibu import ibu, ibu_bootstrap, response_matrix
from mlhep.unfold.metrics import bootstrap_weights, normalized_histogram, triangular_discriminator
from mlhep.unfold.omnifold import omnifold

__all__ = ["ZJetsEvents", "load_events", "run_unfolding"]

IBU_REPLICAS = 50  # bootstrap replicas of IBU (cheap: no training)
LOG_OFFSET = 1e-3  # log(x + LOG_OFFSET) keeps x = 0 (the width of a one-particle jet) finite


@dataclass
class ZJetsEvents:
    """Observables of one Z+jets sample: (n, d) reco and truth, selection flags, generator
    weights, and what OmniFold's networks see at each level (``reco_inputs``, ``truth_inputs``):
    the observables, some as logarithms, or the leading jet's (n, particles, 3) constituents."""

    event: np.ndarray
    reco: np.ndarray
    truth: np.ndarray
    pass_reco: np.ndarray
    pass_truth: np.ndarray
    weight: np.ndarray
    reco_inputs: np.ndarray
    truth_inputs: np.ndarray


def load_events(columns_path, observables, variation="nominal", max_particles=0, log_observables=()):
    """The Z+jets columns of ``columns_path`` with the reco observables of ``variation``
    (nominal, jes_up, jes_down, jer). The network inputs are the observables, those in
    ``log_observables`` as log(x + LOG_OFFSET), or with ``max_particles`` the hardest
    constituents of the leading jet (momentum fraction, delta eta, delta phi; a jet energy scale
    leaves them as they are)."""
    suffix = "" if variation == "nominal" else f"_{variation}"
    names = [f"{o}_reco{suffix}" for o in observables] + [f"{o}_truth" for o in observables] + [f"pass_reco{suffix}", "pass_truth", "weight", "event"]
    if max_particles:
        names += [f"const_{quantity}_{level}" for level in ("reco", "truth") for quantity in ("pt", "deta", "dphi")]
    try:
        available = pq.read_schema(columns_path).names
        missing = [name for name in names if name not in available]
        if missing:
            raise BadInputFile(f"{columns_path}: missing columns {missing} (a Z+jets sample processed with truth?)")
        columns = ak.from_parquet(columns_path, columns=names)
    except (OSError, ValueError) as error:
        raise BadInputFile(f"{columns_path}: cannot read the Z+jets columns: {error}") from error
    get = lambda name: ak.to_numpy(columns[name])  # noqa: E731
    reco = np.stack([get(f"{o}_reco{suffix}") for o in observables], axis=1).astype(np.float64)
    truth = np.stack([get(f"{o}_truth") for o in observables], axis=1).astype(np.float64)
    if max_particles:
        inputs = [padded_constituents(columns, level, max_particles, columns_path) for level in ("reco", "truth")]
    else:
        logged = [observables.index(name) for name in log_observables]
        inputs = [reco.copy(), truth.copy()]
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
    )
    # an observable that cannot be computed for a selected jet (ln rho of a zero soft-drop mass)
    # fails that level: OmniFold needs finite features
    events.pass_reco &= np.all(np.isfinite(events.reco), axis=1)
    events.pass_truth &= np.all(np.isfinite(events.truth), axis=1)
    if not events.pass_reco.any():
        raise EmptySelection(f"{columns_path}: no event passes the reco selection ({variation})")
    return events


def _edges(observable, bins):
    _, low, high = OBSERVABLES[observable]
    return np.linspace(low, high, bins + 1)


def _omnifold_weights(sim, data, options, data_weights=None, seed=0):
    """OmniFold of ``data`` with ``sim``, on their network inputs."""
    selected = data.pass_reco
    weights = data.weight[selected] * (1.0 if data_weights is None else data_weights)
    return omnifold(sim.reco_inputs, sim.truth_inputs, data.reco_inputs[selected], sim_weights=sim.weight, data_weights=weights, pass_reco=sim.pass_reco, pass_truth=sim.pass_truth, seed=seed, **options)


def _weights_table(events, weights, path):
    """Per event of ``events`` (a simulation): event number, pass_truth and each named set of
    OmniFold weights times the generator weight."""
    table = pd.DataFrame({"event": events.event, "pass_truth": events.pass_truth, **{name: values * events.weight for name, values in weights.items()}})
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)


def run_unfolding(settings, simulation_path, data_path, seed, out_dir, plot_dir, alternative_path=None):
    """Unfold the data sample's reco observables (or, with ``constituents``, its leading jets'
    constituents) with the simulation; its truth is the answer.

    Writes to ``out_dir``: weights.parquet (per simulated event: event number, pass_truth and
    the particle-level weights x generator weight: nominal, ensemble_k (the last step with
    network k alone, when the ensemble has more than one), bootstrap_k and one per systematic); with ``alternative_path`` (another
    simulation's columns) the data are unfolded with it too: its weights go to
    model_weights.parquet (per event of that sample, column "model") and the difference of its
    unfolded histograms to the nominal ones is the model systematic;
    unfolded.root (per observable: truth, prior, omnifold, ibu histograms of unit sum, the
    variances holding the squared total uncertainty) and metrics.json; plots to ``plot_dir``.
    """
    from mlhep.unfold.plots import plot_unfolded

    observables = settings["observables"]
    network = settings.get("constituents")  # None: OmniFold on the observables
    options = {
        "iterations": settings["iterations"],
        "hidden": tuple(settings["hidden"]),
        "train": TrainConfig(**{**settings["train"], "seed": seed}),
        "ensemble": settings["ensemble"],
        "constituents": network,
    }
    max_particles = network["max_particles"] if network else 0
    load = lambda path, variation="nominal": load_events(path, observables, variation, max_particles, settings["log_observables"])  # noqa: E731
    sim, data = load(simulation_path), load(data_path)
    selected = data.pass_reco
    started = time.perf_counter()
    nominal = _omnifold_weights(sim, data, options, seed=seed)
    nominal_s = time.perf_counter() - started
    weights = {"nominal": nominal.weights}
    if settings["ensemble"] > 1:
        weights.update({f"ensemble_{k}": member for k, member in enumerate(nominal.member_weights)})
    replicas = bootstrap_weights(int(selected.sum()), settings["bootstrap"], seed=seed) if settings["bootstrap"] else []
    for index, poisson in enumerate(replicas):
        weights[f"bootstrap_{index}"] = _omnifold_weights(sim, data, options, poisson, seed=seed + 1 + index).weights
    for variation in settings["systematics"]:
        weights[variation] = _omnifold_weights(load(simulation_path, variation), data, options, seed=seed).weights
    _weights_table(sim, weights, f"{out_dir}/weights.parquet")
    alternative = None if alternative_path is None else load(alternative_path)
    if alternative is not None:
        model_weights = _omnifold_weights(alternative, data, options, seed=seed).weights
        _weights_table(alternative, {"model": model_weights}, f"{out_dir}/model_weights.parquet")

    metrics, uncertainties, hists = {}, {}, {}
    for column, observable in enumerate(observables):
        edges = _edges(observable, settings["bins"])
        at_truth = lambda values, w: normalized_histogram(values[sim.pass_truth, column], edges, w[sim.pass_truth])  # noqa: E731
        truth = normalized_histogram(data.truth[data.pass_truth, column], edges, data.weight[data.pass_truth])
        prior = at_truth(sim.truth, sim.weight)
        unfolded = {name: at_truth(sim.truth, sim.weight * w) for name, w in weights.items()}
        response = response_matrix(sim.reco[:, column], sim.truth[:, column], sim.pass_reco, sim.pass_truth, edges, sim.weight)
        data_hist, _ = np.histogram(data.reco[selected, column], edges, weights=data.weight[selected])
        ibu_values = ibu(data_hist, response, settings["ibu_iterations"])
        ibu_replicas = ibu_bootstrap(data.reco[selected, column], response, data_weights=data.weight[selected], replicas=IBU_REPLICAS, seed=seed, iterations=settings["ibu_iterations"])
        ibu_values = ibu_values / ibu_values.sum()
        ibu_stat = np.std([r / r.sum() for r in ibu_replicas], axis=0)
        stat = np.std([unfolded[f"bootstrap_{k}"] for k in range(len(replicas))], axis=0) if len(replicas) > 1 else np.zeros_like(prior)
        detector = np.max([np.abs(unfolded[v] - unfolded["nominal"]) for v in settings["systematics"]], axis=0) if settings["systematics"] else np.zeros_like(prior)
        model = np.zeros_like(prior)
        if alternative is not None:
            at = alternative.pass_truth
            model = np.abs(normalized_histogram(alternative.truth[at, column], edges, (alternative.weight * model_weights)[at]) - unfolded["nominal"])
        syst = np.hypot(detector, model)
        results = {"truth": (truth, 0.0), "prior": (prior, 0.0), "omnifold": (unfolded["nominal"], np.hypot(stat, syst)), "ibu": (ibu_values, ibu_stat)}
        for name, (values, uncertainty) in results.items():
            histogram = new_hist(observable, settings["bins"], edges[0], edges[-1])
            histogram.view().value = values
            histogram.view().variance = np.broadcast_to(np.square(uncertainty), values.shape)
            hists[("unfolded", observable, name)] = histogram
        metrics[observable] = {name: triangular_discriminator(results[name][0], truth) for name in ("omnifold", "ibu", "prior")}
        # each source's size: the sum over bins of its absolute shift of the unit-sum histogram
        uncertainties[observable] = {name: float(np.sum(values)) for name, values in (("statistical", stat), ("detector", detector), ("model", model))}
        plot_unfolded(edges, results, observable, f"{plot_dir}/{observable}")
    write_hists(hists, f"{out_dir}/unfolded.root")
    summary = {
        "observables": metrics,
        "uncertainties": uncertainties,
        "iterations": settings["iterations"],
        "seconds_per_iteration": float(np.mean(nominal.seconds_per_iteration)),
        "nominal_s": nominal_s,
        "omnifold_runs": 1 + len(replicas) + len(settings["systematics"]) + (alternative is not None),
        "simulation_events": int(len(sim.event)),
        "data_events": int(selected.sum()),
    }
    write_json(summary, f"{out_dir}/metrics.json")
    return summary
