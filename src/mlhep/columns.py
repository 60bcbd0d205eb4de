"""The one reader of the processed columns (``results/columns/{sample}.parquet``): a missing,
corrupted or incomplete file is a BadInputFile naming it, a sample with no rows an
EmptySelection."""

import awkward as ak
import numpy as np
import pyarrow.parquet as pq

from mlhep.errors import BadInputFile, EmptySelection

__all__ = ["read_columns"]


def read_columns(path, names=None):
    """The columns ``names`` (all when None) of a processed sample as an awkward record array.

    Raises:
        BadInputFile: the file is missing, not a readable parquet file, or lacks a column.
        EmptySelection: the sample has no selected event.
    """
    try:
        available = pq.read_schema(path).names
        missing = [name for name in names or () if name not in available]
        if missing:
            raise BadInputFile(f"{path}: missing columns {missing} (processed by another channel or version?)")
        columns = ak.from_parquet(path, columns=names)
    except (OSError, ValueError) as err:  # pyarrow's errors are both
        raise BadInputFile(f"{path}: cannot read the processed columns ({type(err).__name__}: {err})") from err
    if len(columns) == 0:
        raise EmptySelection(f"{path}: no selected events")
    return _without_nulls(columns, path)


def _without_nulls(columns, path):
    """``columns`` with nullable fields made plain: other writers (pandas for one) mark every
    field nullable, and numpy would get masked arrays, whose masks quantiles and histograms
    ignore. A null float is NaN (pandas writes NaN as null; the stages' NaN checks then name
    the events); a null in any other column is a BadInputFile naming it."""
    if not any(columns[name].layout.is_option for name in columns.fields):
        return columns
    fields = {}
    for name in columns.fields:
        column = columns[name]
        if column.layout.is_option:
            nulls = int(ak.sum(ak.is_none(column, axis=0)))
            floating = column.layout.content.is_numpy and column.layout.content.dtype.kind == "f"
            if nulls and not floating:
                raise BadInputFile(f"{path}: column {name!r} has {nulls} missing value{'s' * (nulls > 1)}")
            column = ak.fill_none(column, np.nan, axis=0) if floating else ak.drop_none(column, axis=0)
        fields[name] = column
    return ak.zip(fields, depth_limit=1)
