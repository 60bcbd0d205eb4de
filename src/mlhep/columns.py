"""The one reader of the processed columns (``results/columns/{sample}.parquet``): a missing,
corrupted or incomplete file is a BadInputFile naming it, a sample with no rows an
EmptySelection."""

import awkward as ak
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
    return columns
