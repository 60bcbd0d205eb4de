"""Conditional normalizing flow p(x | m) for background estimation in a bump hunt (CATHODE)."""

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import zuko

from mlhep import seeds
from mlhep.anomaly.preprocessing import LogitScaler
from mlhep.checks import check_features, check_weights
from mlhep.errors import InvalidConfig, InvalidInput, MlhepError
from mlhep.io import atomic_path, read_model_json, write_model_json
from mlhep.ml.decorrelation import weighted_mean
from mlhep.ml.training import TrainConfig, fit, seed_everything

__all__ = ["ConditionalFlow", "nll_loss"]

BATCH = 65536  # events per forward pass outside training


def nll_loss(module, x, condition, weight):
    """Weighted mean negative log-likelihood of a batch; the loss of the shared training loop."""
    return -weighted_mean(module(condition).log_prob(x), weight)


@dataclass
class ConditionalFlow:
    """Density p(x | c) of features x given one conditioning variable c (the dijet mass).

    The features pass through a LogitScaler, c is standardized, and a neural spline flow
    (zuko.flows.NSF: monotonic rational-quadratic splines, Durkan et al., arXiv:1906.04032, in
    autoregressive layers conditioned on c) models the density of the scaled features; it is
    trained on the negative log-likelihood by mlhep.ml.training.fit. CATHODE (Hallin et al.,
    arXiv:2109.00546) used an affine MAF; splines are chosen here because one spline layer
    already bends a density in ways several affine layers only approximate, so a small flow
    trained for seconds models the skewed, logit-stretched marginals (tau21, jet masses) well.

    Attributes:
        transforms: number of autoregressive spline layers.
        hidden: widths of the hidden layers of each layer's conditioner network.
        bins: spline bins per feature.
        train: TrainConfig (or its dict) of the shared training loop.
        margin, eps: of the LogitScaler; the model's support is the training range widened by
            ``margin`` on each side, so widen it for features with long tails.
    """

    transforms: int = 3
    hidden: tuple = (64, 64)
    bins: int = 8
    train: TrainConfig = field(default_factory=TrainConfig)
    margin: float = 0.05
    eps: float = 1e-6

    def __post_init__(self):
        if isinstance(self.train, dict):
            self.train = TrainConfig(**self.train)
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.transforms < 1 or self.bins < 1 or not self.hidden:
            raise InvalidConfig(f"ConditionalFlow: transforms {self.transforms}, bins {self.bins} and hidden {self.hidden} must be positive")
        self.scaler, self.module = LogitScaler(self.margin, self.eps), None
        self.condition_mean, self.condition_std, self.history = 0.0, 1.0, None

    def _build(self, features):
        return zuko.flows.NSF(features, 1, bins=self.bins, transforms=self.transforms, hidden_features=self.hidden)

    def fit(self, X, condition, weights=None, validation_fraction=0.2, progress=False):
        """Train on events (x, c); returns self.

        Args:
            X: (events, features) features; condition: (events,) conditioning variable.
            weights: optional non-negative per-event weights (of the loss and of the scaling).
            validation_fraction: random part of the events held out for early stopping.
            progress: show the training loop's progress bar.
        """
        X, c = self._inputs(X, condition)
        w = check_weights(weights, len(X))
        if not 0 < validation_fraction < 1:
            raise InvalidConfig(f"validation_fraction {validation_fraction}: must lie in (0, 1)")
        self.scaler.fit(X, w)
        self.condition_mean = float(np.average(c, weights=w))
        std = float(np.sqrt(np.average((c - self.condition_mean) ** 2, weights=w)))
        self.condition_std = std if std > 0 else 1.0
        held_out = seeds.generator("holdout", self.train.seed).random(len(X)) < validation_fraction
        if held_out.all() or not held_out.any():
            raise InvalidInput(f"{len(X)} events: too few to hold out a validation fraction of {validation_fraction}")
        tensors = (self._tensor(self.scaler.transform(X)), self._context(c), self._tensor(w / w.mean()))
        train = tuple(t[torch.from_numpy(~held_out)] for t in tensors)
        validation = tuple(t[torch.from_numpy(held_out)] for t in tensors)
        seed_everything(self.train.seed)  # the initial weights
        self.module = self._build(X.shape[1])
        self.history = fit(self.module, nll_loss, train, validation, self.train, progress=progress)
        self.module.cpu().eval()
        return self

    @torch.no_grad()
    def log_prob(self, X, condition):
        """log p(x | c) per event in the original feature space: the flow's log-density of the
        scaled features plus log |dT/dx| of the LogitScaler. The model's support is the scaler's
        box [lo, hi] (the training range plus its margin): events outside get -inf."""
        X, c = self._inputs(X, condition)
        z, context = self._tensor(self.scaler.transform(X)), self._context(c)
        log_pz = np.concatenate([self._flow(context[i : i + BATCH]).log_prob(z[i : i + BATCH]).double().numpy() for i in range(0, len(z), BATCH)])
        outside = np.any((X < self.scaler.lo) | (X > self.scaler.hi), axis=1)
        return np.where(outside, -np.inf, log_pz + self.scaler.log_abs_det_jacobian(X))

    @torch.no_grad()
    def sample(self, condition, seed=0):
        """One event x ~ p(x | c) per value of ``condition``, in the original feature space.

        Args:
            condition: (n,) conditioning values, e.g. dijet masses drawn from a fit to the
                sidebands interpolated into the signal region (arXiv:2109.00546).
            seed: seed of the draw; the global torch random state is left untouched.
        """
        c = self._condition(condition)
        context = self._context(c)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            z = torch.cat([self._flow(context[i : i + BATCH]).sample() for i in range(0, len(c), BATCH)])
        return self.scaler.inverse_transform(z.double().numpy())

    def save(self, folder):
        """The flow's state_dict in ``folder``/model.pt, the rest in ``folder``/model.json."""
        self._fitted()
        folder = Path(folder)
        with atomic_path(folder / "model.pt") as tmp:
            torch.save(self.module.state_dict(), tmp)
        write_model_json(
            folder, "flow", asdict(self), features=len(self.scaler.lo), scaler=self.scaler.to_dict(), condition=[self.condition_mean, self.condition_std], history=self.history
        )

    @classmethod
    def load(cls, folder):
        folder = Path(folder)
        saved = read_model_json(folder, "flow", weights="model.pt")
        flow = cls(**saved["hyper"])
        flow.scaler = LogitScaler.from_dict(saved["scaler"])
        flow.condition_mean, flow.condition_std = saved["condition"]
        flow.history = saved["history"]
        flow.module = flow._build(saved["features"])
        flow.module.load_state_dict(torch.load(folder / "model.pt", weights_only=True, map_location="cpu"))
        flow.module.eval()
        return flow

    def _fitted(self):
        if self.module is None:
            raise MlhepError("ConditionalFlow: call fit (or load) first")

    def _flow(self, context):
        self._fitted()
        return self.module(context)

    @staticmethod
    def _condition(condition):
        c = np.asarray(condition, dtype=np.float64)
        if c.ndim == 2 and c.shape[1] == 1:
            c = c[:, 0]
        if c.ndim != 1 or len(c) == 0:
            raise InvalidInput(f"condition: expected a non-empty (events,) array, got shape {c.shape}")
        if not np.all(np.isfinite(c)):
            raise InvalidInput(f"condition: {np.sum(~np.isfinite(c))} NaN or infinite values")
        return c

    def _inputs(self, X, condition):
        X, c = check_features(X, "X"), self._condition(condition)
        if len(c) != len(X):
            raise InvalidInput(f"condition: {len(c)} values for {len(X)} events in X")
        return X, c

    def _context(self, c):
        return self._tensor((c - self.condition_mean) / self.condition_std)[:, None]

    @staticmethod
    def _tensor(a):
        return torch.as_tensor(np.asarray(a), dtype=torch.float32)
