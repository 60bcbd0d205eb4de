"""Run a processor over a sample's files with coffea's Runner and write its outputs."""

import contextlib
import hashlib
import itertools
import shutil
import warnings

import awkward as ak
from coffea import processor

from mlhep.columns import read_columns, write_columns, write_piece
from mlhep.errors import BadInputFile, EmptySelection, InvalidConfig
from mlhep.io import scratch_folder
from mlhep.process.common import merge_cutflows
from mlhep.process.dijet import DijetProcessor
from mlhep.process.inputs import CounterMismatch, OpenTrees, Schema, SkippedFileWarning, check_files
from mlhep.process.zjets import ZJetsProcessor

__all__ = ["configured_executor", "dask_client", "make_executor", "make_processor", "run_processor"]

PROCESSORS = {"dijet": DijetProcessor, "zjets": ZJetsProcessor}


def make_processor(channel, options, seed):
    """The processor of a channel with its options (config ``processing.channels``)."""
    if channel not in PROCESSORS:
        raise InvalidConfig(f"unknown channel '{channel}' (known: {', '.join(PROCESSORS)})")
    return PROCESSORS[channel](**options, seed=seed)


def make_executor(name, workers=1, retries=0, status=True):
    """IterativeExecutor ("iterative") or FuturesExecutor ("futures") with ``workers`` processes;
    for "dask" see ``configured_executor``."""
    if name == "iterative":
        return processor.IterativeExecutor(status=status, retries=retries)
    if name == "futures":
        return processor.FuturesExecutor(status=status, workers=workers, retries=retries)
    raise InvalidConfig(f"processing.executor: unknown executor '{name}' (iterative, futures or dask)")


@contextlib.contextmanager
def dask_client(scheduler=None, workers=1):
    """A dask ``distributed.Client``: to the scheduler at address ``scheduler`` (for example a
    dask-jobqueue SLURMCluster's), or to a LocalCluster of ``workers`` single-threaded processes
    that lives as long as the block.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise InvalidConfig("processing.executor: dask needs the dask extra (pip install -e '.[dask]')") from error
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@contextlib.contextmanager
def configured_executor(processing, workers):
    """The executor that config ``processing`` names, with ``workers`` processes (a dask
    LocalCluster of that size unless ``processing.dask.scheduler`` gives an address)."""
    if processing["executor"] != "dask":
        yield make_executor(processing["executor"], workers, processing["retries"])
        return
    with dask_client(processing.get("dask", {}).get("scheduler"), workers) as client:
        yield processor.DaskExecutor(client=client, status=True, retries=processing["retries"])


def run_processor(sample, files, processor_instance, executor, chunksize, skipbadfiles=False, metrics=False, columns_path=None):
    """Run ``processor_instance`` over ``files`` and return its merged output.

    Columns are streamed: each chunk's table is written to a piece file as soon as it is
    computed (in a scratch folder beside ``columns_path``), and the pieces are then copied in
    file and entry order, one at a time, as the row groups of ``columns_path`` (written only if
    rows were selected); ``out["rows"]`` counts them. The memory therefore does not grow with
    the number of events (histograms and cutflows are accumulated as usual). Without
    ``columns_path`` the columns come back in memory as ``out["columns"]``, through the same
    pieces.

    Files are checked first (``check_files``: readable, complete, branches and their types),
    then each chunk as it is read (counters against array lengths, unreadable baskets). A bad
    file raises BadInputFile naming it; with ``skipbadfiles`` it is left out instead, entirely
    (the processing is redone without it when it fails part-way), listed with the reason under
    ``skipped_files`` and reported with a SkippedFileWarning (to stderr, the job's log).
    Rows follow the file and entry order, so the result does not depend on chunking or on the
    order in which the executor finishes chunks. With ``metrics``, coffea's metrics (branches
    read, bytes, processing time) are returned under ``metrics``.
    """
    with scratch_folder(columns_path) as scratch:
        out, good = _run_checked(sample, files, processor_instance, executor, chunksize, skipbadfiles, metrics, scratch)
        pieces = _ordered_pieces(out.pop("column_pieces", {}), list(good))
        target = columns_path or scratch / "columns.parquet"
        out["rows"] = write_columns(pieces, target) if pieces else 0
        if columns_path is None:
            out["columns"] = read_columns(target) if pieces else ak.Array([])
    for name in ("cutflow", "cutflow_truth"):
        if name in out:
            out[name], out[f"{name}_weighted"] = merge_cutflows(out[name], list(good))
    return out


def _run_checked(sample, files, processor_instance, executor, chunksize, skipbadfiles, metrics, scratch):
    """The Runner's output over the files that pass the checks (without those with a bad chunk,
    with ``skipbadfiles``), its column pieces in ``scratch``; and those files."""
    channel = "dijet" if isinstance(processor_instance, DijetProcessor) else "zjets"
    trees = OpenTrees()  # the checked files' trees, so that coffea's reader need not read their metadata again
    try:
        good, skipped = check_files(files, channel, skipbadfiles, trees)
        for attempt in itertools.count():
            if not good:
                raise EmptySelection(f"sample {sample}: no usable input file ({'; '.join(skipped.values())})")
            pieces = scratch / f"attempt{attempt}"
            pieces.mkdir()
            out = _run_files(sample, good, _Chunked(processor_instance, pieces), executor, chunksize, metrics, trees)
            bad, order = {}, list(good)
            for path, _, reason in sorted(out.pop("bad_chunks", ()), key=lambda chunk: (order.index(chunk[0]), chunk[1])):
                bad.setdefault(path, reason)  # the reason of the file's first bad chunk
            if not bad:
                break
            if not skipbadfiles:
                raise BadInputFile(next(iter(bad.values())))
            skipped.update(bad)
            good = {path: meta for path, meta in good.items() if path not in bad}
            shutil.rmtree(pieces)
    finally:
        trees.close()
    for reason in skipped.values():
        warnings.warn(f"skipped input file: {reason}", SkippedFileWarning, stacklevel=3)
    out["skipped_files"] = skipped
    return out, good


def _run_files(sample, good, processor_instance, executor, chunksize, metrics, trees):
    known = {processor.executor.FileMeta(sample, path, "Events"): meta for path, meta in good.items()}
    runner = processor.Runner(executor=executor, schema=Schema, chunksize=chunksize, savemetrics=metrics, metadata_cache=known)
    fileset = {sample: {"files": {path: "Events" for path in good}}}
    out = runner(fileset, processor_instance, treename="Events", uproot_options={"object_cache": trees})
    if metrics:
        out, out["metrics"] = out
    return out


def _ordered_pieces(pieces, files):
    """The column pieces {(file, first entry): path} as (file, path) in file and entry order."""
    position = {path: i for i, path in enumerate(files)}
    return [(key[0], pieces[key]) for key in sorted(pieces, key=lambda key: (position[key[0]], key[1]))]


class _Chunked(processor.ProcessorABC):
    """Runs a processor on a chunk and writes the chunk's column table to a piece in ``folder``
    (mlhep.columns.write_piece), returned as {"column_pieces": {(file, first entry): path}} (chunks that
    selected nothing write none: a real file may lack optional branches). A failure to read
    the chunk (an error raised while coffea loads a column: unreadable basket, counter
    mismatch) becomes a report {"bad_chunks": {(file, first entry, reason)}} instead of an
    exception, so that the caller can name the file or leave it out."""

    def __init__(self, inner, folder):
        self.inner, self.folder = inner, str(folder)

    def process(self, events):
        out = self._guarded(events)
        pieces = {}
        for (filename, start), table in out.pop("columns", {}).items():
            if len(table):
                digest = hashlib.sha256(filename.encode()).hexdigest()[:16]
                pieces[(filename, start)] = path = f"{self.folder}/{digest}-{start:012d}.arrow"
                write_piece(table, path)
        if pieces:
            out["column_pieces"] = pieces
        return out

    def _guarded(self, events):
        try:
            return self.inner.process(events)
        except Exception as err:
            if not _while_reading(err):
                raise
            meta = events.metadata
            start, stop = meta["entrystart"], meta["entrystop"]
            what = err.describe(start) if isinstance(err, CounterMismatch) else f"cannot read entries {start}-{stop - 1} ({type(err).__name__}: {err})"
            return {"bad_chunks": {(meta["filename"], start, f"{meta['filename']}: {what}")}}

    def postprocess(self, accumulator):
        return accumulator


def _while_reading(err):
    """Whether ``err`` was raised while coffea's reader loaded a column (uproot or the column
    mapping is on its traceback), rather than by the processor's own code."""
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(("uproot.", "coffea.nanoevents.mapping")):
            return True
        tb = tb.tb_next
    return False
