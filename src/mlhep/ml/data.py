"""Training data for jet taggers: one row per fat jet, split by event number."""

import awkward as ak
import numpy as np

from mlhep import seeds
from mlhep.columns import read_columns
from mlhep.errors import MissingBranch, require_finite

__all__ = ["JET_FEATURES", "jet_column", "jet_table", "padded_constituents", "split"]

# high-level features of a fat jet, as named in the processing's feature table (suffix _j1/_j2)
JET_FEATURES = ("mass", "msd", "tau21", "tau32", "pt", "eta", "n_constituents")
_COLUMN = {"mass": "mj{}"}


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
