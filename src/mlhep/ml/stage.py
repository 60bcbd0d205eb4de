"""The tagger stage: train a jet tagger on processed samples and measure it (AUC, R50, 1/JSD,
training time); the summary of all taggers with its plots."""

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlhep.columns import JET_FEATURES, split
from mlhep.io import atomic_path, defined, write_json
from mlhep.ml.data import jet_table
from mlhep.ml.metrics import JSD_MASS_BINS, inverse_jsd, rejection, roc_auc, roc_curve, score_threshold
from mlhep.ml.models import make_model

__all__ = ["evaluate_tagger", "summarize_taggers", "tagger_data", "train_tagger"]

log = logging.getLogger(__name__)


def tagger_data(signal_columns, background_columns, seed, max_particles=0):
    """Jets of both samples with features X, labels y, class-balancing weights w, jet mass
    (and with ``max_particles`` their constituents), split into {"train", "val", "test"} by
    event number. Memory: every jet of both samples at once (the training, validation and test
    sets), read with only the tagger's columns."""
    tables = [jet_table(signal_columns, 1, max_particles), jet_table(background_columns, 0, max_particles)]
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
        if max_particles:
            data[name]["constituents"] = table["constituents"]
    return data


def evaluate_tagger(y, score, mass):
    """AUC, R50 and 1/JSD of the background jet mass passing vs failing the 50% signal cut;
    an undefined R50 or 1/JSD is None with a ``{name}_reason``."""
    cut = score_threshold(score[y == 1], 0.5)
    background = y == 0
    metrics = {"auc": roc_auc(y, score), "r50": rejection(y, score, 0.5), "inv_jsd": inverse_jsd(mass[background], score[background] > cut)}
    reasons = {
        "r50": f"no background jet passes the 50 % signal-efficiency cut: R50 exceeds the {int(background.sum())} test background jets",
        "inv_jsd": "every background jet is on one side of the 50 % signal-efficiency cut" if np.isnan(metrics["inv_jsd"]) else "passing and failing background mass distributions are identical",
    }
    return defined(metrics, reasons)


def train_tagger(kind, hyper, signal_columns, background_columns, seed, folder, checkpoints=None):
    """Train a tagger of ``kind`` (a key of MODELS) and write it, its test scores and metrics.json to ``folder``.

    ``checkpoints``: a folder for the training state of torch models, so that a job killed
    mid-way resumes where it stopped; removed once the tagger is written.
    """
    log.info("training %s (%s) with %s, seed %d, on %s against %s", Path(folder).name, kind, hyper, seed, signal_columns, background_columns)
    model = make_model(kind, hyper, seed)
    data = tagger_data(signal_columns, background_columns, seed, getattr(model, "max_particles", 0))
    start = time.perf_counter()
    model.fit(data["train"], data["val"], checkpoints=checkpoints)
    train_seconds = time.perf_counter() - start
    test = data["test"]
    score = model.predict(test)
    metrics = {**evaluate_tagger(test["y"], score, test["mass"]), "train_s": train_seconds, "test_jets": int(len(score))}
    folder = Path(folder)
    model.save(folder)
    with atomic_path(folder / "scores.parquet") as tmp:
        pd.DataFrame({"label": test["y"], "score": score, "mass": test["mass"]}).to_parquet(tmp)
    write_json(metrics, folder / "metrics.json")
    if checkpoints is not None:
        shutil.rmtree(checkpoints, ignore_errors=True)
    log.info("%s: %d training and %d test jets, %s", Path(folder).name, len(data["train"]["y"]), len(score), metrics)
    return metrics


def summarize_taggers(folders, summary_path, plot_dir):
    """summary.json {model: metrics} and the plots: ROC curves; R50 against 1/JSD with each
    decorrelation method's lambda scan as a line; per model, the background jet mass before
    and after its 50% signal-efficiency cut."""
    summary, scores = {}, {}
    for folder in map(Path, folders):
        summary[folder.name] = json.loads((folder / "metrics.json").read_text())
        scores[folder.name] = pd.read_parquet(folder / "scores.parquet")
    plot_dir = Path(plot_dir)
    _plot_roc(summary, scores, plot_dir / "roc")
    _plot_tradeoff(summary, plot_dir / "r50_vs_inv_jsd")
    for name, table in scores.items():
        _plot_background_mass(name, summary[name], table, plot_dir / f"background_mass_{name}")
    write_json(summary, summary_path)
    return summary


def _plot_roc(summary, scores, path):
    from mlhep.plotting import figure, save

    fig, ax = figure()
    for name, table in scores.items():
        background, signal = roc_curve(table.label.to_numpy(), table.score.to_numpy())
        keep = background > 0
        ax.plot(signal[keep], 1 / background[keep], label=f"{name} (AUC {summary[name]['auc']:.3f})")
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency")
    ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
    ax.legend(fontsize="x-small", ncol=2)
    save(fig, path)


def _plot_tradeoff(summary, path):
    from mlhep.plotting import figure, save

    fig, ax = figure()
    scans = {}
    for name, metrics in summary.items():
        method, _, lam = name.partition("_lambda_")
        if lam:
            scans.setdefault(method, []).append((float(lam), metrics))
        elif metrics["inv_jsd"] is not None and metrics["r50"] is not None:
            ax.plot(metrics["inv_jsd"], metrics["r50"], "*", markersize=12, label=name)
    for method, points in scans.items():
        points = sorted((point for point in points if point[1]["inv_jsd"] is not None and point[1]["r50"] is not None), key=lambda point: point[0])
        line = ax.plot([m["inv_jsd"] for _, m in points], [m["r50"] for _, m in points], "o-", label=f"{method} (lambda scan)")
        for lam, m in points:
            ax.annotate(f"{lam:g}", (m["inv_jsd"], m["r50"]), fontsize="x-small", color=line[0].get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("1/JSD (QCD jet mass, pass vs fail)")
    ax.set_ylabel("R50")
    ax.legend(fontsize="small")
    save(fig, path)


def _plot_background_mass(name, metrics, table, path):
    import mplhep

    from mlhep.plotting import figure, save

    background = table[table.label == 0]
    passing = background.score > score_threshold(table.score[table.label == 1].to_numpy(), 0.5)
    fig, ax = figure()
    for mass, style in ((background.mass, {"color": "black", "label": "QCD, no cut"}), (background.mass[passing], {"label": "QCD passing the 50% signal cut"}), (background.mass[~passing], {"linestyle": "--", "label": "QCD failing it"})):
        mplhep.histplot(*np.histogram(mass, bins=JSD_MASS_BINS), density=True, histtype="step", ax=ax, **style)
    ax.set_title(f"{name}: R50 {_shown(metrics['r50'])}, 1/JSD {_shown(metrics['inv_jsd'])}", fontsize="medium")
    ax.set_xlabel("jet mass [GeV]")
    ax.set_ylabel("normalized")
    ax.legend()
    save(fig, path)


def _shown(value):
    return "undefined" if value is None else f"{value:.1f}"
