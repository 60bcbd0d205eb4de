"""The processed columns (``results/columns/{sample}.parquet``): their one reader, the names of
their jet columns, and the train / validation / test split of their events.

A missing, corrupted or incomplete file is a BadInputFile naming it, a sample with no rows an
EmptySelection. The process stage writes these files through ``write_columns``; every later
stage reads them through ``read_columns``.
"""

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mlhep import seeds
from mlhep.errors import BadInputFile, EmptySelection, InvalidInput, MissingBranch, MlhepError
from mlhep.io import atomic_path

__all__ = ["JET_FEATURES", "dijet_columns", "jet_column", "padded_constituents", "read_columns", "split", "write_columns", "write_piece"]

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


# lz4 without dictionaries and statistics: the processed columns are high-cardinality floats and
# lists read whole, where these cost more writing time than they save (about 2.5x faster than
# zstd with both, for 1.25x the size)
PARQUET_OPTIONS = {"compression": "lz4", "use_dictionary": False, "write_statistics": False}


def write_piece(table, path):
    """Write one chunk's columns (an awkward record array) to ``path`` as an Arrow IPC file: a
    piece of the sample's columns, cheap to write and read back, that ``write_columns`` joins."""
    table = ak.to_arrow_table(table)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def write_columns(pieces, path):
    """Write a sample's processed columns to ``path``, atomically, from ``pieces``: (source,
    piece file of write_piece) of its chunks in order, ``source`` naming the input they came
    from. Each piece becomes a parquet row group, memory-mapped while it is written, so that no
    more than one is in memory. Pieces whose columns differ from the first's are a BadInputFile
    naming both sources. Returns the number of rows written."""
    rows = 0
    with atomic_path(path) as tmp:
        writer = None
        try:
            for source, piece in pieces:
                with pa.memory_map(str(piece)) as mapped:
                    table = pa.ipc.open_file(mapped).read_all()
                    if writer is None:
                        first, writer = source, pq.ParquetWriter(tmp, table.schema, **PARQUET_OPTIONS)
                    elif not table.schema.equals(writer.schema):
                        raise BadInputFile(_schema_difference(source, table.schema, first, writer.schema))
                    writer.write_table(table)
                    rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
    return rows


def _schema_difference(source, schema, first, expected):
    if schema.names != expected.names:
        return f"{source}: its columns ({', '.join(schema.names)}) differ from those of {first} ({', '.join(expected.names)}); files with different optional branches belong in different samples"
    name = next(field.name for field, other in zip(schema, expected) if not field.equals(other))
    return f"{source}: column '{name}' has type {schema.field(name).type}, in {first} {expected.field(name).type}"


def dijet_columns(constituents=False):
    """The names of the dijet columns that the fat jets' features, their variations and the
    dijet mass need (mlhep.process.systematics.vary_columns), with the event weight; with
    ``constituents`` also both jets' constituents."""
    names = ["event", "weight", *(jet_column(f, jet) for jet in (1, 2) for f in JET_FEATURES), "phi_j1", "phi_j2"]
    if constituents:
        names += [f"const_{quantity}_j{jet}" for jet in (1, 2) for quantity in ("pt", "deta", "dphi")]
    return names


def read_columns(path, names=None, optional=(), rows=None):
    """The columns ``names`` (all when None) of a processed sample as an awkward record array,
    with those of ``optional`` that the file holds. ``rows``: a function of the event numbers
    giving the mask of the rows to keep (a split); it is applied row group by row group, so only
    the kept rows are ever held in memory together.

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
        wanted = None if names is None else [*names, *present]
        columns = ak.from_parquet(path, columns=wanted) if rows is None else _kept_rows(path, wanted, rows)
    except MlhepError:
        raise
    except (OSError, ValueError) as err:  # pyarrow's errors are both
        raise BadInputFile(f"{path}: cannot read the processed columns ({type(err).__name__}: {err})") from err
    if len(columns) == 0:
        raise EmptySelection(f"{path}: no selected events" + (" among the rows asked for" if rows is not None else ""))
    return _without_nulls(columns, path)


def _kept_rows(path, names, rows):
    """The rows of ``path`` whose event numbers ``rows`` keeps, read one row group at a time
    (the file opened once)."""
    parquet = pq.ParquetFile(path)
    kept = []
    for group in range(parquet.num_row_groups):
        event = parquet.read_row_group(group, columns=["event"]).column("event").to_numpy()
        keep = rows(event)
        if not (isinstance(keep, np.ndarray) and keep.dtype == bool and keep.shape == event.shape):
            raise InvalidInput(f"read_columns({path}): rows must give a boolean mask of shape {event.shape}, got {type(keep).__name__} {getattr(keep, 'dtype', '')} {getattr(keep, 'shape', '')}")
        table = parquet.read_row_group(group, columns=names)
        kept.append(ak.from_arrow(table.filter(pa.array(keep))))
    return ak.concatenate(kept) if kept else ak.from_parquet(path, columns=names)


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
