"""Processing speed against a raw uproot read of the same branches, and peak memory at two sizes."""

import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

import uproot

from mlhep.errors import MlhepError
from mlhep.process import make_executor, make_processor, run_processor

__all__ = ["bench_process", "replicated"]


def replicated(source, events, folder, events_per_file=100_000):
    """At least ``events`` events in files of ``events_per_file`` in ``folder``, each the events
    of ``source`` repeated with new event numbers (mlhep.generate.nanoaod.repeat_events; the
    processing cost does not depend on the events being distinct). Returns the file paths."""
    from mlhep.generate.nanoaod import repeat_events

    per_source = uproot.open(source)["Events"].num_entries
    copies = max(1, events_per_file // per_source)
    stem = Path(source).stem
    files = [Path(folder) / f"{stem}_x{copies}_{index}.root" for index in range(-(-events // (copies * per_source)))]
    for path in files:
        if not path.exists():
            repeat_events(source, path, copies)
    return [str(path) for path in files]


def _raw_read(files, branches, chunksize):
    start = time.perf_counter()
    events = 0
    for arrays in uproot.iterate({f: "Events" for f in files}, expressions=branches, step_size=chunksize):
        events += len(arrays)
    return events, time.perf_counter() - start


def _processing(files, chunksize, queue):
    """The dijet processor on one core, its columns streamed to a parquet file as the process
    rule writes them; peak RSS of this (fresh) process."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        out = run_processor("bench", files, make_processor("dijet", {}, seed=1), make_executor("iterative", status=False), chunksize, metrics=True, columns_path=f"{folder}/columns.parquet")
        seconds = time.perf_counter() - start
        column_bytes = os.path.getsize(f"{folder}/columns.parquet")
    queue.put(
        {
            "events": out["cutflow"]["all"],
            "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "selected": out["rows"],
            "branches": sorted({c.rsplit("-", 1)[0] for c in out["metrics"]["columns"]}),
            "parquet_bytes": column_bytes,
        }
    )


def _in_child(files, chunksize):
    """Run the processing in a fresh process so that its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_processing, args=(files, chunksize, queue))
    child.start()
    child.join()  # the result is a small dict: the queue's pipe holds it until read
    if child.exitcode != 0:
        raise MlhepError(f"the processing benchmark's child process failed (exit code {child.exitcode}); its traceback is above")
    return queue.get(timeout=60)


def bench_process(source, events, folder, chunksize=20000, small_fraction=0.1):
    """Events per second of the dijet processor (IterativeExecutor, one core, columns streamed to
    parquet) on at least ``events`` events (``source`` repeated, files in ``folder``) against ``uproot.iterate`` of exactly the branches it reads (from coffea's metrics) on the
    same files and chunks; its peak RSS there and, in another fresh process, on
    ``small_fraction`` of the events."""
    large = replicated(source, events, folder)
    small = large[: max(1, round(len(large) * small_fraction))]
    run_small, run = _in_child(small, chunksize), _in_child(large, chunksize)
    n_raw, raw_seconds = _raw_read(large, run["branches"], chunksize)
    rate, raw_rate = run["events"] / run["seconds"], n_raw / raw_seconds
    return {
        "events": run["events"],
        "files": len(large),
        "source": str(source),
        "chunksize": chunksize,
        "events_per_s": rate,
        "raw_read_events_per_s": raw_rate,
        "ratio": rate / raw_rate,
        "peak_rss_mb": run["peak_rss_mb"],
        "small_events": run_small["events"],
        "peak_rss_mb_small": run_small["peak_rss_mb"],
        "rss_ratio": run["peak_rss_mb"] / run_small["peak_rss_mb"],
        "selected_events": run["selected"],
        "parquet_bytes_per_selected_event": run["parquet_bytes"] / max(run["selected"], 1),
        "branches": run["branches"],
    }
