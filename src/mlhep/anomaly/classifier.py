"""The classifier of weakly supervised anomaly detection, averaged over its best epochs."""

import heapq

import numpy as np
import torch

from mlhep.checks import check_features, check_labels
from mlhep.ml.decorrelation import weighted_bce
from mlhep.ml.networks import MLP, standardization
from mlhep.ml.ratio import balanced_weights
from mlhep.ml.training import TrainConfig, fit, seed_everything

__all__ = ["best_epochs_scores"]


def _loss(module, x, y, w):
    return weighted_bce(module(x), y, w)


def best_epochs_scores(train, validation, evaluate, hidden=(64, 64, 64), config=None, keep=5):
    """Train an MLP to tell class 1 from class 0 and score ``evaluate`` with the mean of the
    predictions of the ``keep`` epochs of lowest validation loss.

    In weak supervision the two classes differ by a small signal fraction, the validation loss
    is noisy and one epoch's model is a poor pick; CATHODE (arXiv:2109.00546) averages the
    predictions of the best epochs instead. Both classes are weighted to equal sums.

    Args:
        train, validation: (X, y) with X (events, features) and y (events,) of 0 and 1.
        evaluate: list of (events, features) arrays to score.
        hidden: widths of the hidden layers; config: TrainConfig (run every epoch: the
            early_stopping flag is ignored); keep: epochs averaged.

    Returns:
        list of (events,) arrays of class-1 probabilities, one per array of ``evaluate``.
    """
    config = config or TrainConfig()
    (X_train, y_train), (X_val, y_val) = (_checked(*part, name) for part, name in ((train, "training"), (validation, "validation")))
    mean, scale = standardization(X_train)

    def tensors(X, y):
        return tuple(torch.as_tensor(a, dtype=torch.float32) for a in ((X - mean) / scale, y, balanced_weights(y, np.ones(len(y)))))

    inputs = [torch.as_tensor((check_features(X, "events to score") - mean) / scale, dtype=torch.float32) for X in evaluate]
    best = []  # heap of (-val_loss, epoch, predictions): the worst kept epoch on top

    @torch.no_grad()
    def remember(epoch, val_loss, module):
        module.eval()
        # the sigmoid in double precision: float32 rounds confident scores to exactly 1 (ties)
        predictions = [torch.sigmoid(module(x.to(next(module.parameters()).device)).double()).cpu().numpy() for x in inputs]
        heapq.heappush(best, (-val_loss, epoch, predictions))
        if len(best) > keep:
            heapq.heappop(best)

    seed_everything(config.seed)
    module = MLP(X_train.shape[1], tuple(hidden))
    run_all = TrainConfig(**{**config.__dict__, "early_stopping": False})
    fit(module, _loss, tensors(X_train, y_train), tensors(X_val, y_val), run_all, progress=False, on_epoch=remember)
    return [np.mean([kept[2][i] for kept in best], axis=0) for i in range(len(inputs))]


def _checked(X, y, name):
    X = check_features(X, f"{name} features")
    return X, check_labels(y, len(X), name)
