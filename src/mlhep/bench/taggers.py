"""Decorrelation benchmark: the lambda scans of a finished tagger run against the plain MLP."""

import json
from pathlib import Path

__all__ = ["bench_taggers"]


def bench_taggers(summary_path, min_r50_fraction=0.3):
    """The decorrelated tagger with the largest 1/JSD among those keeping R50 >= min_r50_fraction
    of the plain MLP's, and its 1/JSD and R50 relative to the MLP's.

    Reads the ``results/taggers/summary.json`` of a workflow run.
    """
    summary = json.loads(Path(summary_path).read_text())
    plain = summary["mlp"]
    defined = {name: m for name, m in summary.items() if m["r50"] is not None and m["inv_jsd"] is not None}
    kept = {name: m for name, m in defined.items() if "_lambda_" in name and m["r50"] >= min_r50_fraction * plain["r50"]}
    result = {"summary": str(summary_path), "mlp": plain, "min_r50_fraction": min_r50_fraction, "models": summary}
    if not kept:
        return {**result, "best": None, "inv_jsd_ratio": None, "target_met": False}
    best = max(kept, key=lambda name: kept[name]["inv_jsd"])
    ratio = kept[best]["inv_jsd"] / plain["inv_jsd"]
    return {
        **result,
        "best": best,
        "inv_jsd_ratio": ratio,
        "r50_ratio": kept[best]["r50"] / plain["r50"],
        "target_met": ratio >= 10,
    }
