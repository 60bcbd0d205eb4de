"""Iterative Bayesian unfolding of a binned observable, with efficiency and fakes (D'Agostini, NIM A362 (1995) 487)."""

from dataclasses import dataclass

import numpy as np

from mlhep.errors import EmptySelection, InvalidConfig, InvalidInput
from mlhep.unfold.metrics import bootstrap_weights

__all__ = ["Response", "ibu", "ibu_bootstrap", "response_matrix"]


@dataclass
class Response:
    """Detector response of a 1-d observable, from simulation (weighted counts).

    migration: (n_reco, n_truth) events passing both selections, by reco and truth bin.
    truth: (n_truth,) events passing truth; reco: (n_reco,) events passing reco.
    fakes: (n_reco,) events passing reco but not truth.
    """

    reco_bins: np.ndarray
    truth_bins: np.ndarray
    migration: np.ndarray
    truth: np.ndarray
    reco: np.ndarray
    fakes: np.ndarray

    @property
    def efficiency(self):
        """Fraction of each truth bin's events that pass reco (0 in empty truth bins)."""
        return _divide(self.migration.sum(axis=0), self.truth)

    @property
    def fake_fraction(self):
        """Fraction of each reco bin's events that are fakes."""
        return _divide(self.fakes, self.reco)

    @property
    def smearing(self):
        """P(reco bin | truth bin), (n_reco, n_truth); each column sums to the efficiency."""
        return _divide(self.migration, self.truth[None, :])


def _divide(a, b):
    return np.divide(a, b, out=np.zeros(np.broadcast_shapes(np.shape(a), np.shape(b))), where=b > 0)


def _inside(values, bins):
    return np.isfinite(values) & (values >= bins[0]) & (values < bins[-1])


def response_matrix(sim_reco, sim_truth, pass_reco, pass_truth, bins, weights=None, truth_bins=None):
    """Fill the response of a 1-d observable from simulated events.

    An event outside the bin edges at one level counts as failing that level (so an event
    whose truth lies outside ``truth_bins`` is a fake if its reco lies inside ``bins``).

    Args:
        sim_reco, sim_truth: (n,) observable at detector and particle level (NaN where failing).
        pass_reco, pass_truth: boolean (n,) selections.
        bins: reco bin edges, also the truth edges unless ``truth_bins`` is given.
        weights: generator weights (n,); default 1.

    Returns:
        Response.
    """
    sim_reco, sim_truth = (np.asarray(v, dtype=np.float64) for v in (sim_reco, sim_truth))
    n = len(sim_reco)
    weights = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    pass_reco, pass_truth = np.asarray(pass_reco, dtype=bool), np.asarray(pass_truth, dtype=bool)
    arrays = {"sim_reco": sim_reco, "sim_truth": sim_truth, "weights": weights, "pass_reco": pass_reco, "pass_truth": pass_truth}
    for name, values in arrays.items():
        if values.shape != (n,):
            raise InvalidInput(f"response_matrix: {name} has shape {values.shape}, expected ({n},) like sim_reco")
    reco_bins = np.asarray(bins, dtype=np.float64)
    truth_bins = reco_bins if truth_bins is None else np.asarray(truth_bins, dtype=np.float64)
    for edges, name in ((reco_bins, "bins"), (truth_bins, "truth_bins")):
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise InvalidConfig(f"response_matrix: {name} must be at least two increasing edges, got {edges}")
    reco_ok = pass_reco & _inside(sim_reco, reco_bins)
    truth_ok = pass_truth & _inside(sim_truth, truth_bins)
    if not reco_ok.any() or not truth_ok.any():
        raise EmptySelection("response_matrix: no simulated event passes reco (or truth) inside the bin edges")
    both = reco_ok & truth_ok
    migration, _, _ = np.histogram2d(sim_reco[both], sim_truth[both], bins=(reco_bins, truth_bins), weights=weights[both])
    truth, _ = np.histogram(sim_truth[truth_ok], bins=truth_bins, weights=weights[truth_ok])
    reco, _ = np.histogram(sim_reco[reco_ok], bins=reco_bins, weights=weights[reco_ok])
    fake_rows = reco_ok & ~truth_ok
    fakes, _ = np.histogram(sim_reco[fake_rows], bins=reco_bins, weights=weights[fake_rows])
    return Response(reco_bins, truth_bins, migration, truth, reco, fakes)


def ibu(data_hist, response, iterations=4, prior=None, fakes="rate"):
    """Iterative Bayesian unfolding (D'Agostini, Nucl. Instrum. Meth. A362 (1995) 487).

    Each iteration subtracts the expected fakes from the data, applies Bayes' theorem with the
    current truth estimate lambda as prior, P(t | r) = P(r | t) lambda_t / sum_t' P(r | t') lambda_t',
    and corrects for the efficiency: lambda_t <- sum_r P(t | r) s_r / eff_t. Truth bins with no
    simulated reco event stay at 0.

    Fakes: with ``fakes="rate"`` (default) the simulated number of fakes per true event is
    trusted, so the data hold fakes_sim_r x sum(lambda) / sum(truth_sim) fakes, updated every
    iteration (as OmniFold here keeps the fakes' simulated weight). With ``"fraction"`` the data
    are scaled once by the simulated purity 1 - fakes_r / reco_r: simpler, but biased when the
    data's reco spectrum differs from the simulation's, since the fakes then follow the signal.

    Args:
        data_hist: (n_reco,) data counts in the response's reco bins.
        response: Response from ``response_matrix``.
        iterations: number of iterations (regularization: few iterations stay close to the prior).
        prior: (n_truth,) starting truth spectrum; default the simulated truth (only its shape matters).
        fakes: "rate" or "fraction", see above.

    Returns:
        (n_truth,) unfolded truth counts, in units of the data (corrected for efficiency and fakes).
    """
    data = np.asarray(data_hist, dtype=np.float64)
    n_reco, n_truth = response.migration.shape
    if data.shape != (n_reco,):
        raise InvalidInput(f"ibu: data_hist has shape {data.shape}, the response has {n_reco} reco bins")
    if iterations < 1:
        raise InvalidConfig(f"ibu: need iterations >= 1, got {iterations}")
    if fakes not in ("rate", "fraction"):
        raise InvalidConfig(f"ibu: fakes must be 'rate' or 'fraction', got {fakes!r}")
    estimate = response.truth.astype(np.float64) if prior is None else np.asarray(prior, dtype=np.float64)
    if estimate.shape != (n_truth,) or np.any(estimate < 0) or not estimate.sum() > 0:
        raise InvalidConfig(f"ibu: prior must be non-negative, not all zero, with {n_truth} truth bins")
    smearing, efficiency = response.smearing, response.efficiency
    fakes_per_event = response.fakes / response.truth.sum()
    if fakes == "rate":
        # scale the prior to the data, so that its expected fakes are too
        estimate *= data.sum() / (smearing @ estimate + fakes_per_event * estimate.sum()).sum()
    for _ in range(iterations):
        if fakes == "rate":
            signal = np.clip(data - fakes_per_event * estimate.sum(), 0, None)
        else:
            signal = data * (1 - response.fake_fraction)
        folded = smearing @ estimate
        posterior = _divide(smearing * estimate[None, :], folded[:, None])  # P(t | r), rows r
        estimate = _divide(posterior.T @ signal, efficiency)
    return estimate


def ibu_bootstrap(data_reco, response, *, data_weights=None, replicas=100, seed=0, iterations=4, prior=None, fakes="rate"):
    """Statistical spread of IBU by the Poisson bootstrap: every replica histograms the data with
    Poisson(1) event weights (times ``data_weights``) and is unfolded again.

    Args:
        data_reco: (n_data,) data observable at detector level (values outside the reco edges ignored).
        response, iterations, prior, fakes: as in ``ibu``.

    Returns:
        (replicas, n_truth) unfolded histograms; their standard deviation per bin is the uncertainty.
    """
    data_reco = np.asarray(data_reco, dtype=np.float64)
    weights = np.ones(len(data_reco)) if data_weights is None else np.asarray(data_weights, dtype=np.float64)
    if weights.shape != data_reco.shape:
        raise InvalidInput(f"ibu_bootstrap: {weights.shape} data_weights for {data_reco.shape} events")
    draws = bootstrap_weights(len(data_reco), replicas, seed)
    return np.stack([ibu(np.histogram(data_reco, response.reco_bins, weights=weights * d)[0], response, iterations, prior, fakes) for d in draws])
