"""Training and inference time of the torch taggers on the CPU or a GPU, on a run's columns."""

import platform
import time
from dataclasses import replace

import torch

from mlhep.config import tagger_models
from mlhep.ml.models import make_model
from mlhep.ml.stage import evaluate_tagger, tagger_data

__all__ = ["bench_training"]


def bench_training(config, signal_columns, background_columns, models, device):
    """Train each of ``models`` (tagger names of ``config``) on ``device`` ("cpu" or "cuda") with
    the config's settings: {"device", "threads", "models": {name: {"train_s", "epochs",
    "s_per_epoch", "infer_ms_per_1000", "train_jets", "auc", "r50", "inv_jsd"}}}."""
    taggers = tagger_models(config["taggers"]["models"])
    results = {}
    for name in models:
        kind, hyper = taggers[name]
        model = make_model(kind, hyper, config["seed"])
        model.train = replace(model.train, device=device)
        data = tagger_data(signal_columns, background_columns, config["seed"], getattr(model, "max_particles", 0))
        start = time.perf_counter()
        model.fit(data["train"], data["val"])
        train_s = time.perf_counter() - start
        epochs = sum(history["epochs"] for history in model.history)
        model.predict(data["test"])  # warm-up: the first call on a GPU pays for its start
        start = time.perf_counter()
        score = model.predict(data["test"])
        infer_s = time.perf_counter() - start
        results[name] = {
            "train_s": train_s,
            "epochs": epochs,
            "s_per_epoch": train_s / epochs,
            "infer_ms_per_1000": 1e6 * infer_s / len(score),
            "train_jets": len(data["train"]["y"]),
            **evaluate_tagger(data["test"]["y"], score, data["test"]["mass"]),
        }
    name = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or platform.machine()
    return {"device": name, "threads": torch.get_num_threads(), "models": results}
