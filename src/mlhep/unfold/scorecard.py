"""Judging unfolding weights in the full phase space: unfolded and never-unfolded observables,
pairs of observables in 2D, and a classifier two-sample test, each beside the prior, IBU where it
applies, and the noise floor of the pseudo-data."""

from itertools import combinations

import numpy as np

from mlhep import seeds
from mlhep.errors import InvalidConfig
from mlhep.unfold.ibu import ibu, response_matrix
from mlhep.unfold.metrics import (
    discriminator_floor,
    normalized_histogram,
    normalized_histogram2d,
    triangular_discriminator,
    two_sample_auc,
    two_sample_auc_floor,
)

__all__ = ["NEVER_UNFOLDED", "Scorecard", "quantile_edges"]

# truth columns of the Z+jets processor that no unfolding sees: the leading jet's pT and eta and
# its hardest constituent's momentum fraction
NEVER_UNFOLDED = ("jet_pt", "jet_eta", "jet_zlead")


def quantile_edges(values, weights, bins):
    """Edges of ``bins`` bins holding equal weight of ``values`` (NaN ignored); repeated edges
    (a discrete observable) are merged, so there may be fewer bins."""
    finite = np.isfinite(values)
    values, weights = values[finite], weights[finite]
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order]) / weights.sum()
    inner = values[order][np.searchsorted(cumulative, np.linspace(0, 1, bins + 1)[1:-1])]
    edges = np.unique(np.concatenate([[values.min()], inner, [values.max()]]))
    if len(edges) < 2:
        raise InvalidConfig("quantile_edges: the values take a single value; nothing to bin")
    return edges


def _clipped(values, edges):
    """``values`` with those outside the edges put in the first or last bin (NaN kept)."""
    return np.clip(values, edges[0], edges[-1])


class Scorecard:
    """The answers and references against which unfolding weights of ``sim`` are judged on the
    pseudo-data ``data``, computed once: the truth histograms, the prior (the simulation's
    truth), IBU (per observable, and in 2D for every pair), the noise floors, and the classifier
    two-sample AUC of the prior and of the floor.

    The truth is that of ``reference``, an independent sample generated with the data's
    settings, where one is given. Judged against the data's own truth, a method that passes the
    data's fluctuations through (IBU with a nearly diagonal response) scores below the noise
    floor, and one that does not (OmniFold: reweighted simulation) is penalized for it. With a
    reference, the floor is the data's own truth against the reference: what a perfect
    unfolding of these data scores. Without one it is the expected figure of two independent
    samples of the data's size (halves of the data truth).

    Args:
        sim, data: Z+jets events (mlhep.unfold.stage.ZJetsEvents): truth and reco (n, d) arrays of
            ``observables``, pass_reco, pass_truth, weight, and ``never`` ({name: (n,) truth
            values}) holding some of NEVER_UNFOLDED.
        observables: the d unfolded observables; edges: {observable: bin edges} of the 1D
            metrics and of IBU.
        ibu_iterations: IBU's iterations (1D and 2D).
        seed: seed of the noise floors' halves and of the two-sample tests.
        reference: Z+jets events with the data's settings and independent of them, or None.
        never_bins: bins (equal prior weight) of the never-unfolded observables; pair_bins: bins
            per axis of the 2D histograms of pairs (equal prior weight per axis).
    """

    def __init__(self, sim, data, observables, edges, ibu_iterations=4, seed=0, never_bins=20, pair_bins=8, floor_splits=10, reference=None):
        self.sim, self.data, self.observables, self.seed = sim, data, list(observables), seed
        self.truth = data if reference is None else reference
        self.sim_truth, self.sim_w = sim.truth[sim.pass_truth], sim.weight[sim.pass_truth]
        self.data_truth, self.data_w = data.truth[data.pass_truth], data.weight[data.pass_truth]
        self.answer_truth, self.answer_w = self.truth.truth[self.truth.pass_truth], self.truth.weight[self.truth.pass_truth]
        self.histograms = {}  # name: (histogram of sim truth weights, IBU or None)
        for column, name in enumerate(self.observables):
            self._add_observable(name, column, edges[name], ibu_iterations)
        names = [name for name in NEVER_UNFOLDED if name in sim.never and name in data.never and name in self.truth.never]
        self.missing = [name for name in NEVER_UNFOLDED if name not in names]
        for name in names:
            self._add_never(name, never_bins)
        for first, second in combinations(range(len(self.observables)), 2):
            self._add_pair(first, second, pair_bins, ibu_iterations)
        self.answer = {name: histogram(self.answer_w, of="answer") for name, (histogram, _) in self.histograms.items()}
        if reference is None:
            n = len(self.data_w)
            self.floor = {name: discriminator_floor(lambda half, h=histogram: h(self.data_w, half, of="data"), n, seed, floor_splits) for name, (histogram, _) in self.histograms.items()}
            self.auc_floor = two_sample_auc_floor(self.data_truth, self.data_w, seed=seed)
        else:
            self.floor = {name: triangular_discriminator(histogram(self.data_w, of="data"), self.answer[name]) for name, (histogram, _) in self.histograms.items()}
            self.auc_floor = two_sample_auc(self.data_truth, self.answer_truth, self.data_w, self.answer_w, seed=seeds.integer("toys", seed, "auc_floor"))
        self.prior = {name: triangular_discriminator(histogram(self.sim_w), self.answer[name]) for name, (histogram, _) in self.histograms.items()}
        self.ibu = {name: triangular_discriminator(unfolded, self.answer[name]) for name, (_, unfolded) in self.histograms.items() if unfolded is not None}
        self.auc_prior = two_sample_auc(self.sim_truth, self.answer_truth, self.sim_w, self.answer_w, seed=seeds.integer("toys", seed, "auc_prior"))

    def _histogram(self, values_of, edges):
        """``histogram(weights, mask=None, of="sim")``: the normalized histogram of the truth values
        ``values_of[of]`` (of: sim, data or answer) of events in ``mask`` with ``weights``."""

        def histogram(weights, mask=None, of="sim"):
            values = values_of[of]
            mask = np.ones(len(values), bool) if mask is None else mask
            if values.ndim == 1:
                return normalized_histogram(values[mask], edges, weights[mask])
            return normalized_histogram2d(values[mask, 0], values[mask, 1], *edges, weights[mask])

        return histogram

    def _add_observable(self, name, column, edges, iterations):
        sim, data = self.sim, self.data
        response = response_matrix(sim.reco[:, column], sim.truth[:, column], sim.pass_reco, sim.pass_truth, edges, sim.weight)
        observed, _ = np.histogram(data.reco[data.pass_reco, column], edges, weights=data.weight[data.pass_reco])
        unfolded = ibu(observed, response, iterations)
        values_of = {"sim": self.sim_truth[:, column], "data": self.data_truth[:, column], "answer": self.answer_truth[:, column]}
        self.histograms[name] = (self._histogram(values_of, edges), unfolded / unfolded.sum())

    def _add_never(self, name, bins):
        values_of = {key: events.never[name][events.pass_truth] for key, events in (("sim", self.sim), ("data", self.data), ("answer", self.truth))}
        edges = quantile_edges(values_of["sim"], self.sim_w, bins)
        self.histograms[name] = (self._histogram({key: _clipped(values, edges) for key, values in values_of.items()}, edges), None)

    def _add_pair(self, first, second, bins, iterations):
        """The 2D histogram of two observables, and IBU on the flattened 2D bins."""
        sim, data = self.sim, self.data
        columns = [first, second]
        edges = [quantile_edges(self.sim_truth[:, c], self.sim_w, bins) for c in columns]
        clip = lambda values: np.stack([_clipped(values[:, c], e) for c, e in zip(columns, edges)], axis=1)
        flat = lambda values: _flat_index(clip(values), edges)
        n_bins = (len(edges[0]) - 1) * (len(edges[1]) - 1)
        flat_edges = np.arange(n_bins + 1) - 0.5
        response = response_matrix(flat(sim.reco), flat(sim.truth), sim.pass_reco, sim.pass_truth, flat_edges, sim.weight)
        observed, _ = np.histogram(flat(data.reco)[data.pass_reco], flat_edges, weights=data.weight[data.pass_reco])
        unfolded = ibu(observed, response, iterations).reshape(len(edges[0]) - 1, len(edges[1]) - 1)
        name = f"{self.observables[first]}:{self.observables[second]}"
        values_of = {"sim": clip(self.sim_truth), "data": clip(self.data_truth), "answer": clip(self.answer_truth)}
        self.histograms[name] = (self._histogram(values_of, edges), unfolded / unfolded.sum())

    def judge(self, weights, auc=True):
        """The figures of the unfolding weights ``weights`` (per simulated event, multiplying the
        generator weights), each with the prior's, IBU's (where it applies) and the noise floor:
        {"observables": {name: {...}}, "unfolded_never": {name: {...}} (the never-unfolded
        observables and the pairs "a:b"), "auc_joint": {"omnifold", "prior", "floor"} (with
        ``auc``)}. Triangular discriminators are x 1e3."""
        unfolded_weights = self.sim_w * np.asarray(weights, dtype=np.float64)[self.sim.pass_truth]
        out = {"observables": {}, "unfolded_never": {}}
        for name, (histogram, _) in self.histograms.items():
            figures = {"omnifold": triangular_discriminator(histogram(unfolded_weights), self.answer[name]), "prior": self.prior[name], "floor": self.floor[name]}
            if name in self.ibu:
                figures["ibu"] = self.ibu[name]
            out["observables" if name in self.observables else "unfolded_never"][name] = figures
        if auc:
            out["auc_joint"] = {"omnifold": two_sample_auc(self.sim_truth, self.answer_truth, unfolded_weights, self.answer_w, seed=seeds.integer("toys", self.seed, "auc_unfolded")), "prior": self.auc_prior, "floor": self.auc_floor}
        return out


def _flat_index(values, edges):
    """The flattened 2D bin index (float) of each (n, 2) row; NaN where a value is NaN."""
    index = [np.clip(np.searchsorted(e, values[:, c], side="right") - 1, 0, len(e) - 2) for c, e in enumerate(edges)]
    flat = (index[0] * (len(edges[1]) - 1) + index[1]).astype(np.float64)
    return np.where(np.all(np.isfinite(values), axis=1), flat, np.nan)
