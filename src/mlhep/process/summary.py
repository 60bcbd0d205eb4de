"""The cutflow table of all samples (CSV, shown in the report)."""

import csv
import json
from pathlib import Path

from mlhep.io import atomic_path

__all__ = ["cutflow_table"]


def cutflow_table(cutflow_files, path):
    """Write one row per sample and selection step: sample, channel, step, events."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sample", "channel", "step", "events", "skipped_files"])
        for cutflow_file in cutflow_files:
            cutflow = json.loads(Path(cutflow_file).read_text())
            for step, events in cutflow["cutflow"].items():
                writer.writerow([cutflow["sample"], cutflow["channel"], step, events, len(cutflow["skipped_files"])])
