"""Taggers as estimators (fit / predict / save / load on numpy arrays): an MLP and a BDT."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import xgboost
from torch import nn

from mlhep.io import atomic_path
from mlhep.ml.training import TrainConfig, fit, seed_everything

__all__ = ["BDTClassifier", "MLP", "MLPClassifier"]


class MLP(nn.Module):
    """Fully connected network, ReLU between layers, one output (a logit)."""

    def __init__(self, n_inputs, hidden=(64, 64)):
        super().__init__()
        layers, width = [], n_inputs
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).squeeze(-1)


def _weighted_bce(module, x, y, w):
    return (nn.functional.binary_cross_entropy_with_logits(module(x), y, reduction="none") * w).sum() / w.sum()


@dataclass
class MLPClassifier:
    """Standardized inputs into an MLP trained with weighted binary cross-entropy.

    The inputs' means and widths are learnt in ``fit`` and saved with the weights.
    """

    hidden: tuple = (64, 64)
    train: TrainConfig = field(default_factory=TrainConfig)
    history: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        if isinstance(self.train, dict):
            self.train = TrainConfig(**self.train)
        self.module, self.mean, self.scale = None, None, None

    def fit(self, X, y, X_val, y_val, sample_weight=None, sample_weight_val=None, loss=_weighted_bce, progress=False):
        self.mean, self.scale = X.mean(axis=0), X.std(axis=0) + 1e-12
        seed_everything(self.train.seed)  # the initial weights too
        self.module = MLP(X.shape[1], self.hidden)
        self.history = fit(
            self.module,
            loss,
            self._tensors(X, y, sample_weight),
            self._tensors(X_val, y_val, sample_weight_val),
            self.train,
            progress=progress,
        )
        return self

    def _tensors(self, X, y, w):
        w = np.ones(len(y)) if w is None else w
        return tuple(torch.as_tensor(a, dtype=torch.float32) for a in ((X - self.mean) / self.scale, y, w))

    @torch.no_grad()
    def predict(self, X):
        """Signal probability of every row of X."""
        self.module.eval()
        self.module.cpu()
        x = torch.as_tensor((X - self.mean) / self.scale, dtype=torch.float32)
        return torch.sigmoid(self.module(x)).numpy().astype(np.float64)

    def save(self, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "model.pt") as tmp:
            torch.save(self.module.state_dict(), tmp)
        hyper = {"hidden": list(self.hidden), "train": asdict(self.train), "mean": self.mean.tolist(), "scale": self.scale.tolist()}
        with atomic_path(folder / "model.json") as tmp:
            tmp.write_text(json.dumps(hyper, indent=2))

    @classmethod
    def load(cls, folder):
        folder = Path(folder)
        hyper = json.loads((folder / "model.json").read_text())
        model = cls(hidden=hyper["hidden"], train=hyper["train"])
        model.mean, model.scale = np.array(hyper["mean"]), np.array(hyper["scale"])
        model.module = MLP(len(model.mean), model.hidden)
        model.module.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
        return model


@dataclass
class BDTClassifier:
    """xgboost gradient-boosted trees (native API), early stopping on the validation loss."""

    n_estimators: int = 300
    max_depth: int = 4
    learning_rate: float = 0.1
    early_stopping_rounds: int = 20
    seed: int = 0

    def __post_init__(self):
        self.booster = None

    def fit(self, X, y, X_val, y_val, sample_weight=None, sample_weight_val=None, progress=False):
        params = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "seed": self.seed,
            "nthread": 1,
        }
        train = xgboost.DMatrix(X, label=y, weight=sample_weight)
        validation = xgboost.DMatrix(X_val, label=y_val, weight=sample_weight_val)
        self.booster = xgboost.train(
            params,
            train,
            num_boost_round=self.n_estimators,
            evals=[(validation, "val")],
            early_stopping_rounds=self.early_stopping_rounds,
            verbose_eval=progress,
        )
        return self

    def predict(self, X):
        return self.booster.predict(xgboost.DMatrix(X), iteration_range=(0, self.booster.best_iteration + 1)).astype(np.float64)

    def save(self, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "model.json") as tmp:
            tmp.write_bytes(bytes(self.booster.save_raw(raw_format="json")))

    @classmethod
    def load(cls, folder):
        model = cls()
        model.booster = xgboost.Booster(model_file=str(Path(folder) / "model.json"))
        return model
