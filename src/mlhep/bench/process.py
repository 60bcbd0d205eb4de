"""Processing speed against a raw uproot read of the same branches, and peak memory."""

import multiprocessing
import resource
import time

import uproot

from mlhep.process import make_executor, make_processor, run_processor

__all__ = ["bench_process"]

def _raw_read(files, branches, chunksize):
    start = time.perf_counter()
    events = 0
    for arrays in uproot.iterate({f: "Events" for f in files}, expressions=branches, step_size=chunksize):
        events += len(arrays)
    return events, time.perf_counter() - start


def _processing(files, chunksize, queue):
    start = time.perf_counter()
    out = run_processor("bench", files, make_processor("dijet", {}, seed=1), make_executor("iterative", status=False), chunksize, metrics=True)
    seconds = time.perf_counter() - start
    branches = sorted({c.rsplit("-", 1)[0] for c in out["metrics"]["columns"]})
    queue.put(
        {
            "events": out["cutflow"]["all"],
            "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "selected": len(out["columns"]),
            "branches": branches,
            "column_bytes": out["columns"].nbytes,
        }
    )


def _in_child(files, chunksize):
    """Run the processing in a fresh process so that its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_processing, args=(files, chunksize, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def bench_process(files, chunksizes=(2000, 20000)):
    """Events per second of the dijet processor (IterativeExecutor, one core) against
    ``uproot.iterate`` of exactly the branches it reads (from coffea's metrics), on the same
    files; peak RSS per chunk size and the memory of the feature table per event."""
    runs = {str(c): _in_child(files, c) for c in chunksizes}
    main = runs[str(chunksizes[-1])]
    n_raw, raw_seconds = _raw_read(files, main["branches"], chunksizes[-1])
    rate = main["events"] / main["seconds"]
    raw_rate = n_raw / raw_seconds
    return {
        "events": main["events"],
        "files": len(files),
        "events_per_s": rate,
        "raw_read_events_per_s": raw_rate,
        "ratio": rate / raw_rate,
        "peak_rss_mb": main["peak_rss_mb"],
        "chunksize": chunksizes[-1],
        "peak_rss_mb_by_chunksize": {c: r["peak_rss_mb"] for c, r in runs.items()},
        "selected_events": main["selected"],
        "feature_table_bytes_per_event": main["column_bytes"] / max(main["selected"], 1),
        "branches": main["branches"],
    }
