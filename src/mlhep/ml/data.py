"""Training data for jet taggers: one row per fat jet, split by event number."""

import awkward as ak
import numpy as np

from mlhep.checks import require_finite
from mlhep.columns import JET_FEATURES, jet_column, padded_constituents, read_columns

__all__ = ["jet_table"]


def jet_table(columns_path, label, max_particles=0):
    """Both leading fat jets of every selected event of a processed sample as feature rows.

    Returns:
        dict of numpy arrays: each of JET_FEATURES, ``event`` and ``label``; if ``max_particles``
        > 0 also "constituents", (jets, max_particles, 3): momentum fraction z (of the stored
        constituents' pt sum), delta eta and delta phi of the hardest constituents, zero-padded.
    """
    names = ["event", *(jet_column(name, jet) for jet in (1, 2) for name in JET_FEATURES)]
    if max_particles:
        names += [f"const_{quantity}_j{jet}" for jet in (1, 2) for quantity in ("pt", "deta", "dphi")]
    columns = read_columns(columns_path, names)
    rows = {name: [] for name in (*JET_FEATURES, "event")}
    for jet in (1, 2):
        for name in JET_FEATURES:
            rows[name].append(ak.to_numpy(columns[jet_column(name, jet)]).astype(np.float64))
        rows["event"].append(ak.to_numpy(columns.event))
        if max_particles:
            rows.setdefault("constituents", []).append(padded_constituents(columns, f"j{jet}", max_particles, columns_path))
    table = {name: np.concatenate(values) for name, values in rows.items()}
    require_finite(np.column_stack([table[name] for name in JET_FEATURES]), JET_FEATURES, columns_path)
    table["label"] = np.full(len(table["event"]), label, dtype=np.int64)
    return table
