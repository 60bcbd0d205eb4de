"""Input files for processing: readable, complete, non-empty, with the branches a channel needs
and of the right types; while processing, every collection's counter is checked against the
lengths of the arrays read (``Schema``)."""

import warnings

import numpy as np
import uproot
from coffea.nanoevents import PFNanoAODSchema, transforms
from coffea.nanoevents.util import concat

from mlhep.errors import BadInputFile, MissingBranch, OptionalBranchWarning
from mlhep.generate.nanoaod import open_events

__all__ = ["BRANCHES", "CounterMismatch", "OpenTrees", "Schema", "SkippedFileWarning", "check_files"]


def _branches(collection, floats=(), ints=()):
    """{branch: expected kind} of some fields of a collection ("float" or "int")."""
    return {**{f"{collection}_{f}": "float" for f in floats}, **{f"{collection}_{f}": "int" for f in ints}}


_P4 = ("pt", "eta", "phi", "mass")
_EVENT_IDS = {"run": "int", "luminosityBlock": "int", "event": "int"}
_LINKS = ("jetIdx", "pFCandsIdx")
_JET_SUBSTRUCTURE = {"floats": ("msoftdrop", "tau1", "tau2", "softdropZg"), "ints": ("nConstituents",)}

# Branches each channel cannot do without, and those it uses when present, with the kind of
# number each must hold (counters of jagged branches must be integers too).
BRANCHES = {
    "dijet": {
        "required": {**_EVENT_IDS, **_branches("FatJet", (*_P4, "msoftdrop", "tau1", "tau2", "tau3"))},
        "optional": {
            **_branches("FatJet", ints=("nConstituents",)),
            **_branches("FatJetPFCands", ints=_LINKS),
            **_branches("PFCands", ("pt", "eta", "phi")),
            "genWeight": "float",
        },
    },
    "zjets": {
        "required": {**_EVENT_IDS, **_branches("Muon", _P4, ("charge",)), **_branches("Jet", _P4)},
        "optional": {
            **_branches("Jet", **_JET_SUBSTRUCTURE),
            **_branches("JetPFCands", ints=_LINKS),
            **_branches("PFCands", _P4),
            **_branches("GenDressedLepton", _P4, ("pdgId",)),
            **_branches("GenJet", _P4 + _JET_SUBSTRUCTURE["floats"], _JET_SUBSTRUCTURE["ints"]),
            **_branches("GenJetCands", ints=_LINKS),
            **_branches("GenCands", _P4),
            "genWeight": "float",
        },
    },
}
_KINDS = {"float": ("f", "a floating-point number"), "int": ("iu", "an integer")}


class SkippedFileWarning(UserWarning):
    """With ``skipbadfiles``, an input file was left out; the message names it and says why."""


class CounterMismatch(Exception):
    """A collection's counter (``nFatJet``) disagrees with the length of one of its arrays
    (``FatJet_pt``) in some entries of a chunk; raised while coffea reads the array."""

    def __init__(self, counter, branch, counts, lengths):
        bad = np.flatnonzero(counts != lengths) if len(counts) == len(lengths) else np.arange(min(len(counts), len(lengths)))
        self.counter, self.branch, self.first, self.last, self.n_bad = counter, branch, int(bad[0]), int(bad[-1]), len(bad)
        self.value, self.length = int(counts[self.first]), int(lengths[self.first])
        super().__init__(self.describe(0))

    def describe(self, entrystart):
        """The message with entry numbers counted from the file's first entry (the chunk's
        first entry is ``entrystart``)."""
        first, last = entrystart + self.first, entrystart + self.last
        return (
            f"counter '{self.counter}' disagrees with the length of '{self.branch}' in {self.n_bad} entries of {first}-{last}"
            f" (entry {first}: {self.counter} = {self.value}, {self.branch} has {self.length} values)"
        )


def _counted_content(stack):
    """coffea form-key transform ``array,counts,branch,counter,!mlhep_counted_content``: the
    content of a jagged branch, after checking its entries' lengths against its counter."""
    counter, branch = stack.pop(), stack.pop()
    counts = transforms.ensure_array(stack.pop())
    array = transforms.to_layout(stack.pop())
    lengths = np.diff(np.asarray(array.offsets))
    if len(counts) != len(lengths) or not np.array_equal(counts, lengths):
        raise CounterMismatch(counter, branch, counts, lengths)
    stack.append(array.content)


# coffea looks the transforms of a form key up by name in this module
transforms.mlhep_counted_content = _counted_content


class Schema(PFNanoAODSchema):
    """PFNano schema, quiet about the many cross-references a file may lack.

    The collections' offsets come from their counters (``nFatJet``), as in every NanoAOD
    schema; here each jagged branch read is also checked against its counter, with the
    offsets its own baskets store (the branch is not read twice; the counter is read with each
    branch, from OpenTrees' array cache when it is there), and a mismatch raises
    CounterMismatch instead of silently shifting jets between events.
    """

    warn_missing_crossrefs = False

    def _build_collections(self, field_names, input_contents):
        forms = dict(zip(field_names, input_contents))
        for name, form in forms.items():
            counter = "n" + name.split("_")[0]
            if form["class"].startswith("ListOffset") and form["content"]["class"] == "NumpyArray" and counter in forms:
                form["content"]["form_key"] = concat(form["form_key"], forms[counter]["form_key"], name, counter, "!mlhep_counted_content")
        return super()._build_collections(field_names, input_contents)


class OpenTrees(dict):
    """The trees ``check_files`` opened, keyed as uproot's object cache keys them.

    Passed to coffea's reader as uproot's ``object_cache`` (IterativeExecutor), it lets the
    reader use these trees instead of reading each file's TTree metadata (every branch) a
    second time. It pickles empty, so that worker processes open their files themselves.
    Close it when the processing is done.
    """

    def __init__(self):
        super().__init__()
        # one small array cache for all the files: it only has to keep a chunk's counters, which
        # every branch read is checked against (Schema), while their collection is read
        self.arrays = uproot.LRUArrayCache("8 MB")

    def __reduce__(self):
        return (OpenTrees, ())

    def add(self, tree):
        tree.file.array_cache = self.arrays
        self[tree.file.root_directory.key(tree.name).cache_key] = tree

    def close(self):
        for tree in self.values():
            tree.file.close()
        self.clear()


def check_files(files, channel, skipbadfiles=False, trees=None):
    """Check every file before processing.

    A file must open, hold entries, have the channel's required branches, every branch used
    (required or optional) and its counter of the expected kind (floating-point kinematics,
    integer counters, indices and event ids), all the baskets of those branches within the
    file (not truncated), and be no copy (same ROOT UUID) of another input file.

    Args:
        files: ROOT file paths.
        channel: "dijet" or "zjets" (selects the branches).
        skipbadfiles: skip bad files instead of raising.
        trees: an OpenTrees to keep the usable files' trees in, open, for the processing.

    Returns:
        (good, skipped): {file: {"numentries", "uuid"}} for the usable files (coffea's
        file metadata, so that it need not open them again), and {file: reason} for those
        skipped.

    Raises:
        BadInputFile, MissingBranch: naming the file (and the branch) when not skipping.
    """
    good, skipped, uuids = {}, {}, {}
    for path in map(str, files):
        if path in good or path in skipped:
            raise BadInputFile(f"{path}: listed twice in the sample's files")
        try:
            tree = open_events(path)
            used = _check_tree(path, tree, channel)
            uuid = tree.file.fUUID
            if uuid in uuids:
                raise BadInputFile(f"{path}: a copy of {uuids[uuid]} (same ROOT file UUID): its events would count twice")
        except BadInputFile as err:
            if not skipbadfiles:
                raise
            skipped[path] = str(err)
            continue
        absent = [b for b in BRANCHES[channel]["optional"] if b not in used]
        if absent:
            warnings.warn(f"{path}: optional branches absent, their features are skipped: {', '.join(absent)}", OptionalBranchWarning, stacklevel=2)
        uuids[uuid] = path
        good[path] = {"numentries": tree.num_entries, "uuid": uuid}
        if trees is not None:
            trees.add(tree)
    return good, skipped


def _check_tree(path, tree, channel):
    """The channel's branches present in ``tree``; BadInputFile naming the branch at fault."""
    keys = set(tree.keys())
    missing = [b for b in BRANCHES[channel]["required"] if b not in keys]
    if missing:
        raise MissingBranch(f"{path}: missing required branch '{missing[0]}'" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    kinds = {b: kind for b, kind in {**BRANCHES[channel]["required"], **BRANCHES[channel]["optional"]}.items() if b in keys}
    kinds.update({"n" + b.split("_")[0]: "int" for b in kinds if "_" in b and "n" + b.split("_")[0] in keys})
    size = tree.file.source.num_bytes
    for name, kind in kinds.items():
        branch = tree[name]
        interpretation = getattr(branch.interpretation, "content", branch.interpretation)
        dtype = getattr(interpretation, "to_dtype", None)
        if dtype is None or dtype.kind not in _KINDS[kind][0]:
            raise BadInputFile(f"{path}: branch '{name}' holds {dtype or branch.typename}, expected {_KINDS[kind][1]}")
        n = branch.member("fWriteBasket")
        end = (branch.member("fBasketSeek")[:n] + branch.member("fBasketBytes")[:n]).max(initial=0)
        if end > size:
            raise BadInputFile(f"{path}: truncated, the data of branch '{name}' end at byte {end} of a {size}-byte file")
    return kinds
