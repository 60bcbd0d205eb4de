"""OmniFold: unbinned, multi-dimensional unfolding by iterated classifier reweighting (arXiv:1911.09107)."""

import time
from dataclasses import dataclass, field, replace

import numpy as np

from mlhep import seeds
from mlhep.errors import EmptySelection, InvalidConfig, InvalidInput
from mlhep.ml.ratio import DensityRatio
from mlhep.ml.training import TrainConfig

__all__ = ["OmniFoldResult", "ensemble_weights", "omnifold"]

# classifier probabilities are clipped to [CLIP, 1 - CLIP]: density ratios stay in [1e-6, 1e6]
CLIP = 1e-6


@dataclass
class OmniFoldResult:
    """Output of ``omnifold``; every weight multiplies the generator weights of the simulation.

    weights: (n_sim,) particle-level (push) weights after the last iteration.
    step1_weights: (n_sim,) detector-level (pull) weights of the last iteration.
    push_history, pull_history: (iterations, n_sim) weights of every iteration, to check convergence.
    member_weights: (ensemble, n_sim) the last iteration's push weights with the step-2 ratio of
        each network of the ensemble alone: their spread is the training noise of the last step.
    seconds_per_iteration: wall time of each iteration.
    histories: training histories of every network (from mlhep.ml.training.fit), per iteration and step.
    """

    weights: np.ndarray
    step1_weights: np.ndarray
    push_history: np.ndarray
    pull_history: np.ndarray
    member_weights: np.ndarray
    seconds_per_iteration: list = field(default_factory=list)
    histories: list = field(default_factory=list, repr=False)


def _features(values, name, n=None, *, constituents):
    values = np.asarray(values, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 and not constituents else values
    expected = "(events, particles, features)" if constituents else "(events, features)"
    if values.ndim != (3 if constituents else 2) or 0 in values.shape[1:]:
        raise InvalidInput(f"omnifold: {name} must be {expected}, got shape {values.shape}")
    if n is not None and len(values) != n:
        raise InvalidInput(f"omnifold: {name} has {len(values)} rows, expected {n} (one per simulated event)")
    return values


def _mask(mask, n, name):
    if mask is None:
        return np.ones(n, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != (n,) or mask.dtype != bool:
        raise InvalidInput(f"omnifold: {name} must be a boolean array of shape ({n},), got {mask.dtype} {mask.shape}")
    return mask


def _weights(weights, n, name):
    if weights is None:
        return np.ones(n)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n,) or not np.all(np.isfinite(weights)):
        raise InvalidInput(f"omnifold: {name} must be finite with shape ({n},), got shape {weights.shape}")
    return weights


def _require_finite(values, name, mask_name):
    bad = ~np.all(np.isfinite(values.reshape(len(values), -1)), axis=1)
    if np.any(bad):
        hint = f" (mark them failing with {mask_name})" if mask_name else ""
        raise InvalidInput(f"omnifold: {name} has non-finite features in {bad.sum()} of {len(values)} selected rows{hint}")


def _reweighting(numerator, reference, w_numerator, w_reference, *, hidden, train, ensemble, seed, progress, constituents):
    """The fitted class-balanced classifier of p_numerator / p_reference
    (mlhep.ml.ratio.DensityRatio; ``reference`` None: the numerator's events under the weights
    ``w_reference``), its networks and held-out split seeded by ``seed``."""
    if not (w_numerator.sum() > 0 and w_reference.sum() > 0):
        raise EmptySelection("omnifold: a class has no events or a non-positive sum of weights")
    ratio = DensityRatio(hidden=hidden, ensemble=ensemble, train=replace(train, seed=seed), clip=CLIP, seed=seed, constituents=constituents)
    return ratio.fit(numerator, reference, w_numerator, w_reference, progress=progress)


def omnifold(
    sim_reco,
    sim_truth,
    data_reco,
    *,
    sim_weights=None,
    data_weights=None,
    pass_reco=None,
    pass_truth=None,
    iterations=4,
    hidden=(64, 64),
    train=None,
    ensemble=1,
    seed=0,
    progress=False,
    constituents=None,
):
    """Unfold ``data_reco`` with OmniFold (Andreassen, Komiske, Metodiev, Nachman, Thaler,
    arXiv:1911.09107): reweight the simulation at particle level until its detector-level
    distribution matches the data, in any number of observables.

    Every iteration n, with push weights nu_{n-1} (1 at the start), r = f / (1 - f) of a classifier f:
    - step 1 (pull): data reco against simulation reco weighted by generator weight x nu_{n-1},
      on events passing reco: omega_n = nu_{n-1} x r(x_reco). Events failing reco have no reco
      and keep omega_n = nu_{n-1};
    - step 2 (push): simulation truth weighted by omega_n against the same truth weighted by
      nu_{n-1}; nu_n = nu_{n-1} x r(x_truth) for every event passing truth.
    Efficiency: step 2 is trained on the events passing truth and reco only and applied to all
    events passing truth, so an event failing reco gets the mean update of the detected events
    with its truth, E[omega_n / nu_{n-1} | x_truth, reco passed]: the unbinned form of IBU's
    division by the efficiency. Training step 2 on every truth event instead (with omega = nu for
    the undetected ones) damps each update by the efficiency and stalls short of the truth.
    Fakes (pass reco, fail truth) have no truth and keep nu_n = 1: the simulated fake rate per
    event and the fakes' shape are trusted, as by ``ibu(..., fakes="rate")``. Letting them
    follow omega_n instead makes them absorb the data-simulation difference at detector level
    and biases the truth. Their step-1 weights are still returned in ``step1_weights``.
    Classes are balanced in every step (mlhep.ml.ratio.DensityRatio), so OmniFold unfolds the shape:
    the sum of the weighted simulation is kept. Probabilities are clipped to [CLIP, 1 - CLIP].

    Args:
        sim_reco: (n_sim, d_reco) detector-level simulation; rows failing ``pass_reco`` may be NaN.
        sim_truth: (n_sim, d_truth) particle-level simulation; rows failing ``pass_truth`` may be NaN.
        data_reco: (n_data, d_reco) data events passing the detector-level selection.
        sim_weights: generator weights (n_sim,), used everywhere; default 1.
        data_weights: (n_data,) data event weights (Poisson(1) draws for a bootstrap replica); default 1.
        pass_reco, pass_truth: boolean (n_sim,) selections; default all True.
        iterations: number of iterations; hidden: MLP widths; train: TrainConfig of every network.
        ensemble: networks per step; their probabilities are averaged before the ratio is taken.
        seed: every network and held-out split of step s in iteration n is seeded from the
            "training" stream of (seed, n, s).
        progress: show the training progress bars.
        constituents: None, or the PFNClassifier settings (phi, f, energy_flow, max_particles)
            to unfold jet constituents: sim_reco, sim_truth and data_reco are then (events,
            particles, 3) arrays of momentum fraction, delta eta and delta phi, zero-padded
            (mlhep.ml.data.padded_constituents), and ``hidden`` is not used.

    Returns:
        OmniFoldResult; the unfolded distribution is sim_truth[pass_truth] weighted by
        sim_weights x result.weights.
    """
    on_constituents = constituents is not None
    sim_reco = _features(sim_reco, "sim_reco", constituents=on_constituents)
    n_sim = len(sim_reco)
    sim_truth = _features(sim_truth, "sim_truth", n_sim, constituents=on_constituents)
    data_reco = _features(data_reco, "data_reco", constituents=on_constituents)
    if data_reco.shape[1:] != sim_reco.shape[1:]:
        raise InvalidInput(f"omnifold: data_reco has features of shape {data_reco.shape[1:]}, sim_reco {sim_reco.shape[1:]}")
    pass_reco, pass_truth = _mask(pass_reco, n_sim, "pass_reco"), _mask(pass_truth, n_sim, "pass_truth")
    sim_weights = _weights(sim_weights, n_sim, "sim_weights")
    data_weights = _weights(data_weights, len(data_reco), "data_weights")
    if iterations < 1 or ensemble < 1:
        raise InvalidConfig(f"omnifold: need iterations >= 1 and ensemble >= 1, got {iterations} and {ensemble}")
    for rows, name in ((pass_reco, "pass_reco"), (pass_truth, "pass_truth")):
        if not rows.any():
            raise EmptySelection(f"omnifold: no simulated event passes {name}")
    if len(data_reco) == 0 or not data_weights.sum() > 0:
        raise EmptySelection("omnifold: no data events (or zero total data weight)")
    _require_finite(sim_reco[pass_reco], "sim_reco", "pass_reco")
    _require_finite(sim_truth[pass_truth], "sim_truth", "pass_truth")
    _require_finite(data_reco, "data_reco", None)

    detected = pass_truth & pass_reco
    if not detected.any():
        raise EmptySelection("omnifold: no simulated event passes both pass_truth and pass_reco")
    reco, truth = sim_reco[pass_reco], sim_truth[pass_truth]
    train = TrainConfig() if train is None else train
    options = {"hidden": hidden, "train": train, "ensemble": ensemble, "progress": progress, "constituents": constituents}
    push = np.ones(n_sim)
    push_history, pull_history, seconds, histories = [], [], [], []
    for iteration in range(iterations):
        start = time.perf_counter()
        step_seeds = [seeds.integer("training", seed, iteration, step) for step in (1, 2)]
        step1 = _reweighting(data_reco, reco, data_weights, sim_weights[pass_reco] * push[pass_reco], seed=step_seeds[0], **options)
        pull = push.copy()
        pull[pass_reco] *= step1.ratio(reco)
        w = sim_weights[detected]
        step2 = _reweighting(sim_truth[detected], None, w * pull[detected], w * push[detected], seed=step_seeds[1], **options)
        previous, push = push, push.copy()
        push[pass_truth] *= step2.ratio(truth)
        push_history.append(push)
        pull_history.append(pull)
        seconds.append(time.perf_counter() - start)
        histories.append({"step1": step1.classifier.history, "step2": step2.classifier.history})
    members = np.repeat(previous[None], ensemble, axis=0)
    members[:, pass_truth] *= step2.member_ratios(truth)
    return OmniFoldResult(push, pull, np.array(push_history), np.array(pull_history), members, seconds, histories)


def ensemble_weights(result, size):
    """The push weights of ``result`` had the last step 2 averaged only the first ``size`` networks
    of its ensemble (earlier steps keep the whole ensemble): each network's probability
    s_k = r_k / (1 + r_k) is recovered from its weights (``member_weights``), the first ``size``
    are averaged and turned back into a ratio, as DensityRatio does with the whole ensemble. How
    the unfolded distributions approach the answer as ``size`` grows shows the training noise
    that the ensemble averages away.

    Returns:
        (n_sim,) weights; with ``size`` equal to the ensemble, ``result.weights`` up to clipping.
    """
    members = result.member_weights
    if not 1 <= size <= len(members):
        raise InvalidConfig(f"ensemble_weights: size {size} outside 1..{len(members)} (the ensemble)")
    previous = result.push_history[-2] if len(result.push_history) > 1 else np.ones(members.shape[1])
    ratios = members[:size] / previous  # 1 where step 2 does not act (events failing truth)
    score = np.clip(np.mean(ratios / (1 + ratios), axis=0), CLIP, 1 - CLIP)
    return previous * score / (1 - score)
