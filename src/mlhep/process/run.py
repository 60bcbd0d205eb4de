"""Run a processor over a sample's files with coffea's Runner and write its outputs."""

import contextlib

import awkward as ak
import uproot
from coffea import processor

from mlhep.errors import EmptySelection, InvalidConfig
from mlhep.io import atomic_path, write_json
from mlhep.process.dijet import DijetProcessor
from mlhep.process.inputs import OpenTrees, Schema, check_files
from mlhep.process.zjets import ZJetsProcessor

__all__ = ["configured_executor", "dask_client", "make_executor", "make_processor", "process_sample", "run_processor"]

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


def run_processor(sample, files, processor_instance, executor, chunksize, skipbadfiles=False, metrics=False):
    """Run ``processor_instance`` over ``files`` and return its merged output.

    Files are checked first (readable, non-empty, required branches); with
    ``skipbadfiles`` bad ones are skipped and listed under ``skipped_files``.
    Columns come back as one awkward array in file and entry order, so the result does
    not depend on chunking or on the order in which the executor finishes chunks. With ``metrics``, coffea's
    metrics (branches read, bytes, processing time) are returned under ``metrics``.
    """
    channel = "dijet" if isinstance(processor_instance, DijetProcessor) else "zjets"
    trees = OpenTrees()  # the checked files' trees, so that coffea's reader need not read their metadata again
    try:
        good, skipped = check_files(files, channel, skipbadfiles, trees)
        if not good:
            raise EmptySelection(f"sample {sample}: no usable input file ({'; '.join(skipped.values())})")
        known = {processor.executor.FileMeta(sample, path, "Events"): meta for path, meta in good.items()}
        runner = processor.Runner(
            executor=executor, schema=Schema, chunksize=chunksize, skipbadfiles=skipbadfiles, savemetrics=metrics, metadata_cache=known
        )
        fileset = {sample: {"files": {path: "Events" for path in good}}}
        out = runner(fileset, processor_instance, treename="Events", uproot_options={"object_cache": trees})
    finally:
        trees.close()
    if metrics:
        out, out["metrics"] = out
    chunks, position = out.get("columns", {}), {path: i for i, path in enumerate(good)}
    out["columns"] = ak.concatenate([chunks[key] for key in sorted(chunks, key=lambda key: (position[key[0]], key[1]))]) if chunks else ak.Array([])
    out["skipped_files"] = skipped
    return out


def process_sample(sample, files, channel, options, seed, executor, chunksize, skipbadfiles, outputs):
    """Process one sample and write ``outputs`` = {columns (parquet), hists (ROOT), cutflow (JSON)}.

    Raises EmptySelection, naming the sample and the cutflow, when no event is selected;
    nothing is written then.
    """
    out = run_processor(sample, files, make_processor(channel, options, seed), executor, chunksize, skipbadfiles)
    cutflow = {"sample": sample, "channel": channel, "files": len(files), "cutflow": out["cutflow"], "skipped_files": out["skipped_files"]}
    if "cutflow_truth" in out:
        cutflow["cutflow_truth"] = out["cutflow_truth"]
    if len(out["columns"]) == 0:
        raise EmptySelection(f"sample {sample}: no event passes the {channel} selection (cutflow: {out['cutflow']})")
    with atomic_path(outputs["columns"]) as tmp:
        ak.to_parquet(out["columns"], tmp)
    write_hists(out["hists"], outputs["hists"])
    write_json(cutflow, outputs["cutflow"])
    return cutflow


def write_hists(hists, path):
    """Histograms keyed (region, observable, variation) to ROOT as ``region/observable/variation``."""
    with atomic_path(path) as tmp:
        with uproot.recreate(tmp) as out:
            for (region, observable, variation), histogram in sorted(hists.items()):
                out[f"{region}/{observable}/{variation}"] = histogram
