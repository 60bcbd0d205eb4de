"""Write and open NanoAOD-like ROOT files (TTree ``Events``, flat branches with counters)."""

import awkward as ak
import numpy as np
import uproot

from mlhep.errors import BadInputFile
from mlhep.io import atomic_path

__all__ = ["open_events", "read_branches", "write_nanoaod"]


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
