"""The processed columns (``results/columns/{sample}.parquet``): their one reader, the names of
their jet columns, and the train / validation / test split of their events.

A missing, corrupted or incomplete file is a BadInputFile naming it, a sample with no rows an
EmptySelection. The process stage writes these files through ``write_columns``; every later
stage reads them through ``read_columns``.
"""

import awkward as ak
import numpy as np
import pyarrow.parquet as pq

from mlhep import seeds
from mlhep.errors import BadInputFile, EmptySelection, MissingBranch
from mlhep.io import atomic_path

__all__ = ["JET_FEATURES", "jet_column", "padded_constituents", "read_columns", "split", "write_columns"]

# high-level features of a fat jet, as named in the dijet feature tables (suffix _j1/_j2)
JET_FEATURES = ("mass", "msd", "tau21", "tau32", "pt", "eta", "n_constituents")
_COLUMN = {"mass": "mj{}"}


def jet_column(feature, jet):
    """Feature-table column of a jet feature for jet 1 or 2 (mass-ordered)."""
    return _COLUMN[feature].format(jet) if feature in _COLUMN else f"{feature}_j{jet}"


def padded_constituents(columns, jet, max_particles, path):
    """(events, max_particles, 3) array of z, deta, dphi of the jet whose columns end in ``jet``
    ("j1" or "j2" of the dijet tables, "reco" or "truth" of the Z+jets ones), zero-padded."""
    names = [f"const_{name}_{jet}" for name in ("pt", "deta", "dphi")]
    missing = [name for name in names if name not in columns.fields]
    if missing:
        raise MissingBranch(f"{path}: no constituent columns {missing} (the input files have no PFCands?)")
    pt = columns[names[0]]
    z = pt / ak.sum(pt, axis=1)
    padded = [ak.fill_none(ak.pad_none(v, max_particles, clip=True), 0.0) for v in (z, columns[names[1]], columns[names[2]])]
    return np.stack([ak.to_numpy(v).astype(np.float32) for v in padded], axis=-1)


def split(event, seed, fractions=(0.6, 0.2, 0.2), stream="split"):
    """Train / validation / test masks from the event number, fixed by the seed.

    Both jets of an event land in the same part, and a sample's split does not change when
    other samples or sizes change. The draw comes from its own random ``stream``, so that the
    part an event lands in says nothing about any other random number of that event.
    """
    u = seeds.uniform(stream, seed, np.asarray(event, np.uint64))
    edges = np.cumsum(fractions)[:-1]
    part = np.searchsorted(edges, u)
    return tuple(part == k for k in range(len(fractions)))


def write_columns(columns, path):
    """Write a sample's processed columns (an awkward record array) to ``path``, atomically."""
    with atomic_path(path) as tmp:
        ak.to_parquet(columns, tmp)


def read_columns(path, names=None, optional=()):
    """The columns ``names`` (all when None) of a processed sample as an awkward record array,
    with those of ``optional`` that the file holds.

    Raises:
        BadInputFile: the file is missing, not a readable parquet file, or lacks a column.
        EmptySelection: the sample has no selected event.
    """
    try:
        available = pq.read_schema(path).names
        missing = [name for name in names or () if name not in available]
        if missing:
            raise BadInputFile(f"{path}: missing columns {missing} (processed by another channel or version?)")
        present = [name for name in optional if name in available]
        columns = ak.from_parquet(path, columns=None if names is None else [*names, *present])
    except (OSError, ValueError) as err:  # pyarrow's errors are both
        raise BadInputFile(f"{path}: cannot read the processed columns ({type(err).__name__}: {err})") from err
    if len(columns) == 0:
        raise EmptySelection(f"{path}: no selected events")
    return _without_nulls(columns, path)


def _without_nulls(columns, path):
    """``columns`` with nullable fields made plain: other writers (pandas for one) mark every
    field nullable, and numpy would get masked arrays, whose masks quantiles and histograms
    ignore. A null float is NaN (pandas writes NaN as null; the stages' NaN checks then name
    the events); a null list is empty (the Z+jets processor writes the constituents of a level
    with no jet as null); a null in any other column is a BadInputFile naming it."""
    if not any(columns[name].layout.is_option for name in columns.fields):
        return columns
    fields = {}
    for name in columns.fields:
        column = columns[name]
        if column.layout.is_option:
            nulls = int(ak.sum(ak.is_none(column, axis=0)))
            floating = column.layout.content.is_numpy and column.layout.content.dtype.kind == "f"
            listed = column.layout.content.is_list
            if nulls and not (floating or listed):
                raise BadInputFile(f"{path}: column {name!r} has {nulls} missing value{'s' * (nulls > 1)}")
            filler = np.nan if floating else [] if listed else None
            column = ak.drop_none(column, axis=0) if filler is None else ak.fill_none(column, filler, axis=0)
        fields[name] = column
    return ak.zip(fields, depth_limit=1)
