"""Density ratios from class-balanced classifiers, with monotone calibration and reliability curves."""

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import isotonic_regression

from mlhep import seeds
from mlhep.checks import check_features, check_weights
from mlhep.errors import InvalidConfig, InvalidInput, MlhepError
from mlhep.io import read_model_json, write_model_json
from mlhep.ml.models import MLPClassifier, PFNClassifier
from mlhep.ml.training import TrainConfig

__all__ = [
    "CALIBRATIONS",
    "DensityRatio",
    "MonotoneMap",
    "balanced_weights",
    "fit_calibration",
    "isotonic",
    "reliability_curve",
]

CALIBRATIONS = ("histogram", "isotonic")


def balanced_weights(label, weight):
    """Weights scaled so that both classes sum to half the number of events: the classifier's
    s / (1 - s) then estimates p_1(x) / p_0(x) whatever the sample sizes."""
    out = np.array(weight, dtype=np.float64)
    for cls in (0, 1):
        mask = label == cls
        out[mask] *= 0.5 * len(label) / out[mask].sum()
    return out


def isotonic(values, weights):
    """Weighted least-squares non-decreasing fit of ``values`` (in their given order):
    scipy's pool-adjacent-violators (``scipy.optimize.isotonic_regression``)."""
    return isotonic_regression(values, weights=weights).x


@dataclass
class MonotoneMap:
    """Non-decreasing piecewise-linear map through knots ``(x, y)``, constant beyond the ends."""

    x: np.ndarray
    y: np.ndarray

    def __call__(self, score):
        return np.interp(score, self.x, self.y)

    def to_dict(self):
        return {"x": np.asarray(self.x).tolist(), "y": np.asarray(self.y).tolist()}

    @classmethod
    def from_dict(cls, saved):
        return cls(np.array(saved["x"], dtype=np.float64), np.array(saved["y"], dtype=np.float64))


def fit_calibration(score, label, weight=None, method="isotonic", bins=20):
    """Monotone map from a classifier score to the observed fraction of class 1.

    ``isotonic``: pool-adjacent-violators on the events sorted by score (Zadrozny and Elkan,
    KDD 2002); ``histogram``: the class-1 fraction in ``bins`` equally populated score bins,
    made non-decreasing by the same algorithm. The knots are at the mean score of each block or
    bin and the map interpolates linearly between them, so that the calibrated ratio stays
    continuous (Cranmer, Pavez, Louppe, arXiv:1506.02169, calibrate the classifier's score on
    held-out data before turning it into a ratio).

    Args:
        score, label: (n,) arrays; label 1 for the numerator class, 0 otherwise.
        weight: (n,) event weights, balanced between the classes by the caller.
        method: one of CALIBRATIONS.
        bins: number of histogram bins.

    Returns:
        MonotoneMap.
    """
    if method not in CALIBRATIONS:
        raise InvalidConfig(f"calibration {method!r}: choose from {CALIBRATIONS} or None")
    score = np.asarray(score, dtype=np.float64)
    weight = check_weights(weight, len(score))
    if method == "isotonic":
        # equal scores form one point, so that no two knots share an x
        group = np.unique(score, return_inverse=True)[1]
    else:
        edges = np.unique(np.quantile(score, np.linspace(0, 1, bins + 1)[1:-1]))
        group = np.searchsorted(edges, score, side="right")
    group = np.unique(group, return_inverse=True)[1]
    total = np.bincount(group, weight)
    keep = total > 0
    x = np.bincount(group, weight * score)[keep] / total[keep]
    fraction = np.bincount(group, weight * (np.asarray(label) == 1))[keep] / total[keep]
    return MonotoneMap(x, isotonic(fraction, total[keep]))


def reliability_curve(score, label, weight=None, bins=10):
    """Reliability (calibration) curve on held-out data.

    Args:
        score: (n,) predicted probabilities of class 1.
        label: (n,) 1 or 0.
        weight: event weights (balance the classes when the score estimates a ratio).
        bins: equal-width bins in [0, 1]; empty bins are left out.

    Returns:
        (mean predicted probability, observed fraction of class 1), one entry per filled bin.
    """
    score = np.asarray(score, dtype=np.float64)
    weight = check_weights(weight, len(score))
    index = np.clip((score * bins).astype(int), 0, bins - 1)
    total = np.bincount(index, weight, bins)
    filled = total > 0
    predicted = np.bincount(index, weight * score, bins)[filled] / total[filled]
    observed = np.bincount(index, weight * (np.asarray(label) == 1), bins)[filled] / total[filled]
    return predicted, observed


def _split(n, fractions, rng):
    """Boolean masks of a random split of n events: the rest, then one part per fraction."""
    part = np.searchsorted(np.cumsum(fractions), rng.random(n), side="right")
    return [part == len(fractions)] + [part == i for i in range(len(fractions))]


@dataclass
class DensityRatio:
    """r(x) = p_num(x) / p_den(x) from a classifier trained to separate the two samples.

    With classes weighted to equal sums, the optimal score is s = p_num / (p_num + p_den), so
    r = s / (1 - s) (Cranmer, Pavez, Louppe, arXiv:1506.02169). The classifier is an
    mlhep MLPClassifier, or with ``constituents`` a PFNClassifier on jet constituents: an
    ensemble of ``ensemble`` networks whose probabilities are averaged before the ratio is
    taken. Scores are clipped to [clip, 1 - clip], which bounds |log r| by log((1 - clip) / clip). With ``calibration`` set, s is replaced by a monotone map of s
    fitted on a held-out split of both samples.

    Attributes:
        hidden: widths of the hidden layers.
        ensemble: number of networks (each its own "training" stream of train.seed).
        train: TrainConfig (or its dict) of the shared training loop.
        calibration: None, "histogram" or "isotonic"; calibration_bins: histogram bins.
        validation_fraction, calibration_fraction: held-out parts of each sample; the
            calibration split is only taken when calibrating.
        clip: probability clipping; seed: seed of the held-out split ("holdout" stream).
        constituents: None (features are (events, features) arrays) or the PFNClassifier
            settings (phi, f, energy_flow, max_particles): the features are then (events,
            particles, 3) arrays of momentum fraction, delta eta and delta phi, zero-padded.
    """

    hidden: tuple = (64, 64)
    ensemble: int = 3
    train: TrainConfig = field(default_factory=TrainConfig)
    calibration: str | None = None
    calibration_bins: int = 20
    validation_fraction: float = 0.2
    calibration_fraction: float = 0.2
    clip: float = 1e-6
    seed: int = 0
    constituents: dict | None = None

    def __post_init__(self):
        if isinstance(self.train, dict):
            self.train = TrainConfig(**self.train)
        self.hidden = tuple(self.hidden)
        if self.calibration is not None and self.calibration not in CALIBRATIONS:
            raise InvalidConfig(f"calibration {self.calibration!r}: choose from {CALIBRATIONS} or None")
        if not 0 < self.clip < 0.5:
            raise InvalidConfig(f"clip {self.clip}: must lie in (0, 0.5)")
        self.classifier, self.calibrator = None, None

    def fit(self, numerator, denominator, numerator_weight=None, denominator_weight=None, progress=False):
        """Train on two samples of the same features; returns self.

        Args:
            numerator, denominator: (n, features) arrays drawn from p_num and p_den; with
                ``denominator`` None, the two densities are the ``numerator`` events under the
                two weightings (a reweighting, as in OmniFold's step 2): each event then enters
                once, with the soft label w_num / (w_num + w_den) and the weight w_num + w_den,
                the same expected loss as two weighted copies with less noise.
            numerator_weight, denominator_weight: optional per-event weights.
            progress: show the training loop's progress bars.
        """
        numerator = self._check(numerator, "numerator")
        w1 = check_weights(numerator_weight, len(numerator), "numerator_weight")
        if denominator is None:
            w0 = check_weights(denominator_weight, len(numerator), "denominator_weight")
            X = numerator
            w1, w0 = (w * 0.5 * len(X) / w.sum() for w in (w1, w0))
            w = w1 + w0
            y = np.divide(w1, w, out=np.full(len(X), 0.5), where=w > 0)
        else:
            denominator = self._check(denominator, "denominator")
            if numerator.shape[1:] != denominator.shape[1:]:
                raise InvalidInput(f"numerator has features of shape {numerator.shape[1:]}, denominator {denominator.shape[1:]}")
            X = np.concatenate([numerator, denominator])
            y = np.concatenate([np.ones(len(numerator)), np.zeros(len(denominator))])
            w = np.concatenate([w1, check_weights(denominator_weight, len(denominator), "denominator_weight")])
        fractions = [self.validation_fraction] + ([self.calibration_fraction] if self.calibration else [])
        parts = [self._data(X[m], y[m], w[m], soft=denominator is None) for m in _split(len(X), fractions, seeds.generator("holdout", self.seed))]
        if self.constituents is None:
            self.classifier = MLPClassifier(train=self.train, ensemble=self.ensemble, hidden=self.hidden)
        else:
            self.classifier = PFNClassifier(train=self.train, ensemble=self.ensemble, **self.constituents)
        self.classifier.fit(parts[0], parts[1], progress=progress)
        if self.calibration:
            score, cal = self.classifier.predict(parts[2]), parts[2]
            self.calibrator = fit_calibration(score, cal["y"], cal["w"], self.calibration, self.calibration_bins)
        return self

    def _check(self, X, name="X"):
        return check_features(X, name, constituents=self.constituents is not None)

    def _inputs(self, X):
        """The classifier's data dict of features ``X``."""
        return {"X" if self.constituents is None else "constituents": X}

    def _data(self, X, y, w, soft):
        if not soft:
            if not (y == 1).any() or not (y == 0).any():
                raise InvalidInput("too few events: a split of the samples holds only one class")
            w = balanced_weights(y, w)
        return {**self._inputs(X), "y": y, "w": w, "mass": np.zeros(len(y))}

    def ratio(self, X):
        """p_num(x) / p_den(x) = s / (1 - s) per event."""
        return np.exp(self.log_ratio(X))

    def raw_score(self, X):
        """Ensemble-averaged classifier probability of the numerator class, uncalibrated."""
        if self.classifier is None:
            raise MlhepError("DensityRatio: call fit (or load) first")
        return self.classifier.predict(self._inputs(self._check(X)))

    def score(self, X):
        """Calibrated (when configured) and clipped probability s(x) of the numerator class."""
        return self._calibrated(self.raw_score(X))

    def _calibrated(self, s):
        return np.clip(s if self.calibrator is None else self.calibrator(s), self.clip, 1 - self.clip)

    def member_ratios(self, X):
        """(ensemble, n): s / (1 - s) of each network of the ensemble alone, clipped as ``score``
        (and mapped by the ensemble's calibration when there is one); their spread is the
        training noise of the ensemble's ratio."""
        if self.classifier is None:
            raise MlhepError("DensityRatio: call fit (or load) first")
        s = self._calibrated(self.classifier.predict_members(self._inputs(self._check(X))))
        return s / (1 - s)

    def log_ratio(self, X):
        """log p_num(x) / p_den(x) = log s - log(1 - s) per event."""
        s = self.score(X)
        return np.log(s) - np.log1p(-s)

    def log_mixture_ratios(self, X):
        """(log p_num / p_mix, log p_den / p_mix) per event, p_mix = (p_num + p_den) / 2 the
        balanced mixture: log 2s and log 2(1 - s). One classifier so gives both processes'
        ratios to a common reference that covers the support of either."""
        s = self.score(X)
        return np.log(2 * s), np.log(2 * (1 - s))

    def reliability(self, numerator, denominator, bins=10, calibrated=True):
        """Reliability curve (see reliability_curve) on held-out samples, classes balanced."""
        X = np.concatenate([self._check(numerator, "numerator"), self._check(denominator, "denominator")])
        y = np.concatenate([np.ones(len(numerator)), np.zeros(len(denominator))])
        score = self.score(X) if calibrated else self.raw_score(X)
        return reliability_curve(score, y, balanced_weights(y, np.ones(len(y))), bins)

    def save(self, folder):
        """The classifier (its own save) in ``folder``/classifier, the rest in ``folder``/model.json."""
        folder = Path(folder)
        self.classifier.save(folder / "classifier")
        write_model_json(folder, "density_ratio", asdict(self), calibrator=self.calibrator.to_dict() if self.calibrator else None)

    @classmethod
    def load(cls, folder):
        folder = Path(folder)
        saved = read_model_json(folder, "density_ratio")
        ratio = cls(**saved["hyper"])
        ratio.classifier = (MLPClassifier if ratio.constituents is None else PFNClassifier).load(folder / "classifier")
        ratio.calibrator = MonotoneMap.from_dict(saved["calibrator"]) if saved["calibrator"] else None
        return ratio
