"""Input files for processing: readable, non-empty, with the branches a channel needs."""

import warnings

from coffea.nanoevents import PFNanoAODSchema

from mlhep.errors import BadInputFile, MissingBranch, OptionalBranchWarning
from mlhep.generate.nanoaod import open_events

__all__ = ["BRANCHES", "OpenTrees", "Schema", "check_files"]

# Branches each channel cannot do without, and those it uses when present.
BRANCHES = {
    "dijet": {
        "required": ["FatJet_pt", "FatJet_eta", "FatJet_phi", "FatJet_mass", "FatJet_msoftdrop", "FatJet_tau1", "FatJet_tau2", "FatJet_tau3"],
        "optional": ["FatJet_nConstituents", "FatJetPFCands_jetIdx", "FatJetPFCands_pFCandsIdx", "PFCands_pt", "genWeight"],
    },
    "zjets": {
        "required": ["Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge", "FatJet_pt", "FatJet_eta", "FatJet_phi", "FatJet_mass", "FatJet_msoftdrop", "FatJet_tau1", "FatJet_tau2"],
        "optional": [
            "FatJet_nConstituents",
            "FatJet_softdropZg",
            "FatJetPFCands_jetIdx",
            "PFCands_pt",
            "GenDressedLepton_pt",
            "GenJetAK8_pt",
            "GenJetAK8_msoftdrop",
            "GenJetAK8_tau1",
            "GenJetAK8_softdropZg",
            "GenJetAK8_nConstituents",
            "GenFatJetCands_jetIdx",
            "GenCands_pt",
            "genWeight",
        ],
    },
}


class Schema(PFNanoAODSchema):
    """PFNano schema, quiet about the many cross-references a file may lack."""

    warn_missing_crossrefs = False


class OpenTrees(dict):
    """The trees ``check_files`` opened, keyed as uproot's object cache keys them.

    Passed to coffea's reader as uproot's ``object_cache`` (IterativeExecutor), it lets the
    reader use these trees instead of reading each file's TTree metadata (every branch) a
    second time. It pickles empty, so that worker processes open their files themselves.
    Close it when the processing is done.
    """

    def __reduce__(self):
        return (OpenTrees, ())

    def add(self, tree):
        tree.file.array_cache = None  # coffea keeps its own buffers; uproot's cache would only hold memory
        self[tree.file.root_directory.key(tree.name).cache_key] = tree

    def close(self):
        for tree in self.values():
            tree.file.close()
        self.clear()


def check_files(files, channel, skipbadfiles=False, trees=None):
    """Check every file before processing.

    Args:
        files: ROOT file paths.
        channel: "dijet" or "zjets" (selects the required branches).
        skipbadfiles: skip unreadable, empty or incomplete files instead of raising.
        trees: an OpenTrees to keep the usable files' trees in, open, for the processing.

    Returns:
        (good, skipped): {file: {"numentries", "uuid"}} for the usable files (coffea's
        file metadata, so that it need not open them again), and {file: reason} for those
        skipped.

    Raises:
        BadInputFile, MissingBranch: naming the file (and the branch) when not skipping.
    """
    good, skipped = {}, {}
    for path in files:
        try:
            tree = open_events(path)
            keys = set(tree.keys())
            missing = [b for b in BRANCHES[channel]["required"] if b not in keys]
            if missing:
                raise MissingBranch(f"{path}: missing required branch '{missing[0]}'" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        except BadInputFile as err:
            if not skipbadfiles:
                raise
            skipped[str(path)] = str(err)
            continue
        absent = [b for b in BRANCHES[channel]["optional"] if b not in keys]
        if absent:
            warnings.warn(f"{path}: optional branches absent, their features are skipped: {', '.join(absent)}", OptionalBranchWarning, stacklevel=2)
        good[str(path)] = {"numentries": tree.num_entries, "uuid": tree.file.fUUID}
        if trees is not None:
            trees.add(tree)
    return good, skipped
