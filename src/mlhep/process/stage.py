"""The process stage: one sample's NanoAOD files through its coffea processor into the processed
columns, the histograms with their systematic variations, and the cutflow."""

import logging
import time
from pathlib import Path

from mlhep.errors import EmptySelection
from mlhep.io import write_hists, write_json
from mlhep.process.run import make_processor, run_processor

__all__ = ["process_sample"]

log = logging.getLogger(__name__)


def process_sample(sample, files, channel, options, seed, executor, chunksize, skipbadfiles, outputs):
    """Process one sample and write ``outputs`` = {columns (parquet), hists (ROOT), cutflow (JSON)}.

    Raises EmptySelection, naming the sample and the cutflow, when no event is selected;
    nothing is written then.
    """
    log.info("processing %s (%s channel, %d files, chunks of %d), options %s", sample, channel, len(files), chunksize, options)
    start = time.perf_counter()
    out = run_processor(sample, files, make_processor(channel, options, seed), executor, chunksize, skipbadfiles, columns_path=outputs["columns"])
    cutflow = {"sample": sample, "channel": channel, "files": len(files), "skipped_files": out["skipped_files"]}
    cutflow.update({name: out[name] for name in ("cutflow", "cutflow_weighted", "cutflow_truth", "cutflow_truth_weighted") if name in out})
    if out["rows"] == 0:
        raise EmptySelection(f"sample {sample}: no event passes the {channel} selection (cutflow: {out['cutflow']})")
    try:
        write_hists(out["hists"], outputs["hists"])
        write_json(cutflow, outputs["cutflow"])
    except BaseException:
        Path(outputs["columns"]).unlink(missing_ok=True)  # the columns were streamed first: no partial output
        raise
    log.info("%s: %d events selected, cutflow %s, skipped files %s, %.1f s", sample, out["rows"], out["cutflow"], list(out["skipped_files"]), time.perf_counter() - start)
    return cutflow
