"""The one torch training loop of the project: batches, loss, validation, checkpoint, early stop."""

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from mlhep import seeds
from mlhep.errors import MlhepError
from mlhep.io import atomic_path, file_sha256, json_sha256

__all__ = ["TrainConfig", "TrainingDiverged", "checkpoint_folder", "device", "fit", "seed_everything"]


@dataclass
class TrainConfig:
    """Hyper-parameters of the loop (models carry their own)."""

    epochs: int = 50
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int = 5
    early_stopping: bool = True  # False: run every epoch and keep the last (adversarial training)
    seed: int = 0
    device: str = "auto"  # "auto": a GPU when present, else the CPU


def checkpoint_folder(root, name, settings, inputs):
    """``root/name-KEY``: KEY hashes ``settings`` and the bytes of the ``inputs`` files, so that a
    rerun resumes only from the state of a training with the same settings on the same data."""
    key = json_sha256({"settings": settings, "inputs": [file_sha256(path) for path in inputs]})
    return Path(root) / f"{name}-{key[:16]}"


def device(name="auto"):
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name))


def seed_everything(seed):
    """Seed torch's global generator (initial weights, dropout) from the "training" stream of
    ``seed``; deterministic kernels on the CPU."""
    torch.manual_seed(seeds.integer("training", seed, "init"))
    torch.use_deterministic_algorithms(True, warn_only=True)


class TrainingDiverged(MlhepError):
    """A training loss became NaN or infinite."""


def _finite_loss(value, name, epoch, which):
    if not math.isfinite(value):
        raise TrainingDiverged(f"{name}: the {which} loss is {value} in epoch {epoch}; the training diverged (lower the learning rate or the penalty's lambda)")
    return value


def fit(module, loss_fn, train, validation, config, checkpoint=None, progress=True, on_epoch=None, name=None):
    """Train ``module`` with Adam on mini-batches and stop early on the validation loss
    (unless ``config.early_stopping`` is False).

    Args:
        module: a torch.nn.Module.
        loss_fn: ``loss_fn(module, *batch) -> scalar tensor``; a batch is one slice of each
            tensor in ``train`` (features, labels, weights, ... as the loss needs).
        train, validation: tuples of tensors with the same first dimension.
        config: TrainConfig.
        checkpoint: optional path; the best state so far is written there (atomically) after
            every improvement, with the epoch, the loss history and the state of a loss that
            has one (``loss_fn.state_dict()``), and a run resumes from it.
        progress: show a progress bar over epochs.
        on_epoch: optional ``on_epoch(epoch, val_loss, module)``, called after every epoch
            (for example to keep the predictions of the best few epochs).
        name: what is trained, for error messages (default: the module's class).

    Returns:
        history: {"train_loss": [...], "val_loss": [...], "best_epoch": int, "epochs": int};
        the module holds the weights of the best epoch, on the CPU (so that a model trained
        on a GPU saves and loads anywhere).

    Raises:
        TrainingDiverged: naming the model, the epoch and the loss, when a loss is NaN or infinite.
    """
    name = name or type(module).__name__
    seed_everything(config.seed)
    run_on = device(config.device)
    module.to(run_on)
    train = tuple(t.to(run_on) for t in train)
    validation = tuple(t.to(run_on) for t in validation)
    optimizer = torch.optim.Adam(module.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(seeds.integer("training", config.seed, "batches"))
    history = {"train_loss": [], "val_loss": [], "best_epoch": -1}
    best_state, best_loss, start = None, float("inf"), 0
    if checkpoint is not None and Path(checkpoint).exists():
        saved = torch.load(checkpoint, weights_only=True, map_location="cpu")
        module.load_state_dict(saved["module"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        if "loss" in saved:
            loss_fn.load_state_dict(saved["loss"])
        history = json.loads(saved["history"])
        start, best_loss = len(history["train_loss"]), min(history["val_loss"])
        best_state = copy.deepcopy(module.state_dict())
    n = len(train[0])
    for epoch in tqdm(range(start, config.epochs), desc="epochs", disable=not progress):
        module.train()
        order = torch.randperm(n, generator=generator).to(run_on)
        total = 0.0
        for begin in range(0, n, config.batch_size):
            batch = tuple(t[order[begin : begin + config.batch_size]] for t in train)
            loss = loss_fn(module, *batch)
            value = _finite_loss(loss.item(), name, epoch, "training")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += value * len(batch[0])
        history["train_loss"].append(total / n)
        history["val_loss"].append(_finite_loss(evaluate(module, loss_fn, validation, config.batch_size), name, epoch, "validation"))
        if on_epoch is not None:
            on_epoch(epoch, history["val_loss"][-1], module)
        if history["val_loss"][-1] < best_loss or not config.early_stopping:
            best_loss, history["best_epoch"] = history["val_loss"][-1], epoch
            best_state = copy.deepcopy(module.state_dict())
            if checkpoint is not None:
                _save_checkpoint(checkpoint, module, optimizer, generator, history, loss_fn)
        elif epoch - history["best_epoch"] >= config.patience:
            break
    history["epochs"] = len(history["train_loss"])
    module.load_state_dict(best_state)
    module.cpu()
    return history


@torch.no_grad()
def evaluate(module, loss_fn, data, batch_size):
    """Mean loss over ``data`` in evaluation mode."""
    module.eval()
    n, total = len(data[0]), 0.0
    for begin in range(0, n, batch_size):
        batch = tuple(t[begin : begin + batch_size] for t in data)
        total += loss_fn(module, *batch).item() * len(batch[0])
    return total / n


def _save_checkpoint(path, module, optimizer, generator, history, loss_fn):
    state = {
        "module": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "history": json.dumps(history),
    }
    if hasattr(loss_fn, "state_dict"):  # a loss with its own trained parts (an adversary)
        state["loss"] = loss_fn.state_dict()
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
