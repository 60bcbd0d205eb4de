"""The cutflow table of all samples (CSV, shown in the report)."""

import csv
import json
from pathlib import Path

from mlhep.errors import BadInputFile
from mlhep.io import atomic_path

__all__ = ["cutflow_table"]


def cutflow_table(cutflow_files, path):
    """Write one row per sample and selection step: sample, channel, step, events, their sum of
    generator weights, and the number of input files the processing skipped (``skipped_files``
    of the cutflow JSON).

    Raises BadInputFile naming a cutflow file that cannot be read or lacks a field.
    """
    rows = []
    for cutflow_file in cutflow_files:
        try:
            cutflow = json.loads(Path(cutflow_file).read_text())
            skipped, weighted = len(cutflow["skipped_files"]), cutflow["cutflow_weighted"]
            rows += [[cutflow["sample"], cutflow["channel"], step, events, f"{weighted[step]:.6g}", skipped] for step, events in cutflow["cutflow"].items()]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise BadInputFile(f"{cutflow_file}: not a readable cutflow of the processing ({type(err).__name__}: {err})") from err
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sample", "channel", "step", "events", "weighted", "skipped_files"])
        writer.writerows(rows)
