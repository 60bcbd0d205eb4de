"""Write and open NanoAOD-like ROOT files (TTree ``Events``, flat branches with counters)."""

import awkward as ak
import numpy as np
import uproot

from mlhep.errors import BadInputFile
from mlhep.io import atomic_path

__all__ = ["open_events", "read_branches", "read_collections", "repeat_events", "write_nanoaod"]


def write_nanoaod(path, events, runs):
    """Write ``events`` as TTree ``Events`` and ``runs`` as TTree ``Runs``, atomically.

    Args:
        path: output ROOT file.
        events: dict of branch name to a numpy array (one value per event) or an
            awkward record array (events x objects), written NanoAOD style as
            ``nName`` plus ``Name_field`` branches.
        runs: dict of branch name to a one-entry numpy array (run-level sums).
    """
    with atomic_path(path) as tmp:
        with uproot.recreate(tmp, compression=uproot.ZSTD(1)) as out:
            tree = out.mktree("Events", {name: _branch_type(values) for name, values in events.items()})
            tree.extend(events)
            out.mktree("Runs", {name: values.dtype for name, values in runs.items()}).extend(runs)


def _branch_type(values):
    return values.type if isinstance(values, ak.Array) else np.asarray(values).dtype


def open_events(path, treename="Events"):
    """Open the ``Events`` tree of a ROOT file, or raise BadInputFile saying what is wrong with it."""
    try:
        tree = uproot.open(path)[treename]
        n_entries = tree.num_entries
    except FileNotFoundError as err:
        raise BadInputFile(f"{path}: file not found") from err
    except KeyError as err:
        raise BadInputFile(f"{path}: no TTree '{treename}' in the file") from err
    except Exception as err:  # uproot raises many exception types for truncated or corrupted files
        raise BadInputFile(f"{path}: not a readable ROOT file ({type(err).__name__}: {err})") from err
    if n_entries == 0:
        raise BadInputFile(f"{path}: TTree '{treename}' has no entries")
    return tree


def read_branches(path, branches=None, treename="Events"):
    """All (or the named) branches of ``path`` as an awkward array; BadInputFile when unreadable."""
    tree = open_events(path, treename)
    try:
        return tree.arrays(branches)
    except Exception as err:
        raise BadInputFile(f"{path}: cannot read branches ({type(err).__name__}: {err})") from err


def read_collections(path):
    """The ``Events`` of ``path`` as {name: array}, as write_nanoaod takes them: flat branches as
    they are, each collection X (branches X_f counted by nX) zipped into one record array (the
    writer makes its counter again)."""
    arrays = read_branches(path)
    names, events = set(arrays.fields), {}
    for name in arrays.fields:
        prefix, _, field = name.partition("_")
        if field and f"n{prefix}" in names:
            events.setdefault(prefix, {})[field] = arrays[name]
        elif not (name.startswith("n") and any(other.startswith(f"{name[1:]}_") for other in names)):
            events[name] = arrays[name]
    return {name: ak.zip(value) if isinstance(value, dict) else ak.to_numpy(value) for name, value in events.items()}


def repeat_events(source, path, copies):
    """Write to ``path`` (atomically) the events of ``source`` ``copies`` times, each copy with
    new event numbers and written as its own baskets, and the Runs sums times ``copies``: a large
    input whose processing costs what a real one would (for benchmarks at scale)."""
    events = read_collections(source)
    runs = uproot.open(source)["Runs"].arrays(library="np")
    step = np.uint64(np.max(events["event"]) + 1)
    with atomic_path(path) as tmp:
        with uproot.recreate(tmp, compression=uproot.ZSTD(1)) as out:
            tree = out.mktree("Events", {name: _branch_type(values) for name, values in events.items()})
            for copy in range(copies):
                tree.extend({**events, "event": events["event"] + np.uint64(copy) * step})
            summed = {name: values * copies if name.startswith(("genEvent", "nGenerated")) else values for name, values in runs.items()}
            out.mktree("Runs", {name: values.dtype for name, values in summed.items()}).extend(summed)
