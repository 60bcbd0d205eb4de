"""Train a jet tagger on processed samples and measure it: AUC, R50, 1/JSD, training time."""

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlhep.io import atomic_path, write_json
from mlhep.ml.data import JET_FEATURES, jet_table, split
from mlhep.ml.metrics import JSD_MASS_BINS, inverse_jsd, rejection, roc_auc, roc_curve, score_threshold
from mlhep.plotting import figure, save
from mlhep.ml.models import BDTClassifier, MLPClassifier

__all__ = ["MODELS", "evaluate_tagger", "summarize_taggers", "tagger_data", "train_tagger"]

MODELS = {"bdt": BDTClassifier, "mlp": MLPClassifier}


def tagger_data(signal_columns, background_columns, seed):
    """Jets of both samples with features X, labels y, class-balancing weights w, jet mass,
    split into {"train", "val", "test"} by event number."""
    tables = [jet_table(signal_columns, 1), jet_table(background_columns, 0)]
    parts = {"train": [], "val": [], "test": []}
    for table in tables:
        masks = split(table["event"], seed)
        for name, mask in zip(parts, masks):
            parts[name].append({k: v[mask] for k, v in table.items()})
    data = {}
    for name, pieces in parts.items():
        table = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
        y = table["label"].astype(np.float64)
        n_signal, n_background = y.sum(), len(y) - y.sum()
        w = np.where(y == 1, len(y) / (2 * n_signal), len(y) / (2 * n_background))
        data[name] = {"X": np.stack([table[f] for f in JET_FEATURES], axis=1), "y": y, "w": w, "mass": table["mass"]}
    return data


def evaluate_tagger(y, score, mass):
    """AUC, R50 and 1/JSD of the background jet mass passing vs failing the 50% signal cut."""
    cut = score_threshold(score[y == 1], 0.5)
    background = y == 0
    return {
        "auc": roc_auc(y, score),
        "r50": rejection(y, score, 0.5),
        "inv_jsd": inverse_jsd(mass[background], score[background] > cut),
    }


def train_tagger(name, hyper, signal_columns, background_columns, seed, folder):
    """Train model ``name`` (a key of MODELS) and write it, its test scores and metrics.json to ``folder``."""
    data = tagger_data(signal_columns, background_columns, seed)
    model = MODELS[name](**hyper)
    start = time.perf_counter()
    model.fit(data["train"]["X"], data["train"]["y"], data["val"]["X"], data["val"]["y"], data["train"]["w"], data["val"]["w"])
    train_seconds = time.perf_counter() - start
    test = data["test"]
    score = model.predict(test["X"])
    metrics = {**evaluate_tagger(test["y"], score, test["mass"]), "train_s": train_seconds, "test_jets": int(len(score))}
    folder = Path(folder)
    model.save(folder)
    with atomic_path(folder / "scores.parquet") as tmp:
        pd.DataFrame({"label": test["y"], "score": score, "mass": test["mass"]}).to_parquet(tmp)
    write_json(metrics, folder / "metrics.json")
    return metrics


def summarize_taggers(folders, summary_path, plot_dir):
    """summary.json {model: metrics} and the comparison plots: ROC curves, and the background
    jet mass before and after each model's 50% signal-efficiency cut."""
    summary, scores = {}, {}
    for folder in map(Path, folders):
        summary[folder.name] = json.loads((folder / "metrics.json").read_text())
        scores[folder.name] = pd.read_parquet(folder / "scores.parquet")
    fig, ax = figure()
    for name, table in scores.items():
        background, signal = roc_curve(table.label.to_numpy(), table.score.to_numpy())
        keep = background > 0
        ax.plot(signal[keep], 1 / background[keep], label=f"{name} (AUC {summary[name]['auc']:.3f})")
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency")
    ax.set_ylabel("background rejection 1/eps_B")
    ax.legend()
    save(fig, Path(plot_dir) / "roc")
    fig, ax = figure()
    first = next(iter(scores.values()))
    ax.hist(first.mass[first.label == 0], bins=JSD_MASS_BINS, density=True, histtype="step", color="black", label="QCD, no cut")
    for name, table in scores.items():
        cut = score_threshold(table.score[table.label == 1].to_numpy(), 0.5)
        passing = table[(table.label == 0) & (table.score > cut)]
        ax.hist(passing.mass, bins=JSD_MASS_BINS, density=True, histtype="step", label=f"{name}, 50% signal cut")
    ax.set_xlabel("jet mass [GeV]")
    ax.set_ylabel("normalized")
    ax.legend()
    save(fig, Path(plot_dir) / "background_mass")
    write_json(summary, summary_path)
    return summary
