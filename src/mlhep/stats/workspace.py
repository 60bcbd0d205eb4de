"""pyhf workspaces from histogram templates: samples, systematic variations, observations.

A channel is plain data, ``{sample_name: SampleInput}``; ``build_workspace`` turns the channels
into a HistFactory workspace spec (a JSON-serializable dict) checked against pyhf's schema.
"""

from dataclasses import dataclass, field

import jsonpatch
import numpy as np
import pyhf
import uproot

from mlhep.checks import check_bins
from mlhep.errors import BadInputFile, InvalidConfig

__all__ = ["MIN_YIELD", "SampleInput", "background_only", "build_workspace", "expected_yields", "patchset", "read_hists", "sample_from_hists"]

# pyhf's Poisson terms need a positive expectation in every bin and its normsys factors
# need positive varied yields, so every template bin (nominal and varied) is raised to
# this many events. A floored bin holds no statistical uncertainty, so its staterror
# parameter is fixed by pyhf: an empty bin neither breaks the fit nor adds a parameter.
MIN_YIELD = 1e-6


@dataclass
class SampleInput:
    """One sample's templates in one channel.

    Attributes:
        nominal: expected yield per bin.
        stat_variance: sum of squared weights per bin (MC statistical uncertainty), or None.
        variations: ``{name: (up, down)}``; a one-sided variation has ``down = None`` and
            is symmetrized about the nominal (down = 2 nominal - up).
        signal: scaled by the parameter of interest.
    """

    nominal: np.ndarray
    stat_variance: np.ndarray | None = None
    variations: dict = field(default_factory=dict)
    signal: bool = False


def sample_from_hists(histograms, *, signal=False):
    """A SampleInput from ``{variation: hist.Hist}`` with Weight storage.

    ``nominal`` is required; ``X_up``/``X_down`` pairs become the two-sided variation X and
    any other histogram (such as ``jer``) a one-sided one.
    """
    if "nominal" not in histograms:
        raise InvalidConfig(f"no 'nominal' histogram among {sorted(histograms)}")
    nominal = histograms["nominal"]
    for name, histogram in histograms.items():
        if histogram.shape != nominal.shape or not all(np.allclose(a.edges, b.edges) for a, b in zip(histogram.axes, nominal.axes)):
            raise InvalidConfig(f"histogram '{name}' has a binning different from the nominal's")
    variations = {}
    for name in histograms:
        if name == "nominal" or name.endswith("_down"):
            continue
        if name.endswith("_up"):
            base = name.removesuffix("_up")
            if f"{base}_down" not in histograms:
                raise InvalidConfig(f"variation '{name}' has no '{base}_down' partner")
            variations[base] = (histograms[name].values(), histograms[f"{base}_down"].values())
        else:
            variations[name] = (histograms[name].values(), None)
    orphans = [n for n in histograms if n.endswith("_down") and n.removesuffix("_down") not in variations]
    if orphans:
        raise InvalidConfig(f"variations {orphans} have no '_up' partner")
    variance = nominal.variances()
    return SampleInput(nominal=nominal.values(), stat_variance=variance, variations=variations, signal=signal)


def read_hists(path, region, observable):
    """``{variation: hist.Hist}`` of the histograms under ``region/observable`` in a ROOT file."""
    key = f"{region}/{observable}"
    try:
        with uproot.open(path) as file:
            if key not in file:
                raise BadInputFile(f"{path}: no histograms under '{key}' (top-level keys: {file.keys(recursive=False, cycle=False)})")
            folder, histograms = file[key], {}
            for name, classname in folder.classnames(recursive=False, cycle=False).items():
                item = folder[name]
                if not hasattr(item, "to_hist"):
                    raise BadInputFile(f"{path}: '{key}/{name}' is a {classname}, not a histogram")
                histograms[name] = item.to_hist()
            return histograms
    except FileNotFoundError as error:
        raise BadInputFile(f"{path}: file not found (looking for '{key}')") from error
    except (OSError, ValueError) as error:
        raise BadInputFile(f"{path}: cannot read '{key}': {error}") from error


def _floored(values):
    return np.maximum(values, MIN_YIELD)


def _variation_modifiers(name, nominal, up, down):
    """A normsys (the change of the total yield) and a histosys (the change of shape at fixed yield)
    sharing one nuisance parameter ``name``."""
    total = nominal.sum()
    shapes = [varied * total / varied.sum() for varied in (up, down)]
    return [
        {"name": name, "type": "normsys", "data": {"hi": float(up.sum() / total), "lo": float(down.sum() / total)}},
        {"name": name, "type": "histosys", "data": {"hi_data": shapes[0].tolist(), "lo_data": shapes[1].tolist()}},
    ]


def _sample_spec(channel, name, sample, poi, norm_uncertainty):
    """One sample of the workspace spec, with its modifiers."""
    where = f"sample '{name}' in channel '{channel}'"
    raw = check_bins(sample.nominal, f"{where} nominal", allow_negative=False)
    if raw.ndim != 1 or raw.sum() <= 0:
        raise InvalidConfig(f"{where}: the nominal template must be a 1D array with a positive total yield")
    nominal = _floored(raw)
    modifiers = []
    if sample.signal:
        modifiers.append({"name": poi, "type": "normfactor", "data": None})
    if sample.stat_variance is not None:
        variance = check_bins(sample.stat_variance, f"{where} stat_variance", raw.shape, allow_negative=False)
        modifiers.append({"name": f"staterror_{channel}", "type": "staterror", "data": np.sqrt(variance).tolist()})
    for variation, (up, down) in sample.variations.items():
        up = check_bins(up, f"{where} variation '{variation}' up", raw.shape)
        down = 2 * raw - up if down is None else check_bins(down, f"{where} variation '{variation}' down", raw.shape)
        modifiers.extend(_variation_modifiers(variation, nominal, _floored(up), _floored(down)))
    if norm_uncertainty is not None:
        if not 0 <= norm_uncertainty < 1:
            raise InvalidConfig(f"norm_uncertainties: {name} = {norm_uncertainty}, expected a relative uncertainty in [0, 1)")
        modifiers.append({"name": f"norm_{name}", "type": "normsys", "data": {"hi": 1 + norm_uncertainty, "lo": 1 - norm_uncertainty}})
    return {"name": name, "data": nominal.tolist(), "modifiers": modifiers}


def expected_yields(channels, mu):
    """``{channel: total expected yield per bin}`` with the signal scaled by ``mu`` and every
    nuisance parameter at its nominal value (floored templates, as in the workspace)."""
    return {
        channel: sum(_floored(np.asarray(s.nominal, dtype=np.float64)) * (mu if s.signal else 1.0) for s in samples.values())
        for channel, samples in channels.items()
    }


def _observations(channels, observations, asimov_mu):
    """The observations part of the spec: the given counts, or the expected yields at ``asimov_mu``."""
    if observations is None:
        return [{"name": channel, "data": counts.tolist()} for channel, counts in expected_yields(channels, asimov_mu).items()]
    if set(observations) != set(channels):
        raise InvalidConfig(f"observations are given for channels {sorted(observations)}, the workspace has {sorted(channels)}")
    spec = []
    for channel, samples in channels.items():
        nbins = np.shape(next(iter(samples.values())).nominal)
        counts = check_bins(observations[channel], f"observations of channel '{channel}'", nbins, allow_negative=False)
        spec.append({"name": channel, "data": counts.tolist()})
    return spec


def build_workspace(channels, *, poi="mu", norm_uncertainties=None, observations=None, measurement="measurement", asimov_mu=0.0):
    """A pyhf workspace spec (a JSON-serializable dict) from ``{channel: {sample: SampleInput}}``.

    Signal samples get the normfactor ``poi``; samples with a ``stat_variance`` share the
    channel's ``staterror_{channel}``; each variation becomes a normsys and a histosys of the
    same name (one nuisance parameter): the normsys carries the change of the total yield,
    the histosys the change of shape (templates normalized to the nominal yield).
    ``norm_uncertainties`` = ``{sample: u}`` adds the normsys ``norm_{sample}`` (1 +- u).
    Without ``observations``, the data are the expected yields at ``poi`` = ``asimov_mu``.
    """
    norm_uncertainties = dict(norm_uncertainties or {})
    if not channels or any(not samples for samples in channels.values()):
        raise InvalidConfig("build_workspace: every channel needs at least one sample")
    known = {name for samples in channels.values() for name in samples}
    if set(norm_uncertainties) - known:
        raise InvalidConfig(f"norm_uncertainties name unknown samples {sorted(set(norm_uncertainties) - known)} (samples: {sorted(known)})")
    if not any(s.signal for samples in channels.values() for s in samples.values()):
        raise InvalidConfig(f"no signal sample: nothing carries the parameter of interest '{poi}'")
    spec_channels = []
    for channel, samples in channels.items():
        shapes = {name: np.shape(s.nominal) for name, s in samples.items()}
        if len(set(shapes.values())) != 1:
            raise InvalidConfig(f"channel '{channel}': samples have different numbers of bins {shapes}")
        spec_samples = [_sample_spec(channel, name, s, poi, norm_uncertainties.get(name)) for name, s in samples.items()]
        spec_channels.append({"name": channel, "samples": spec_samples})
    spec = {
        "version": "1.0.0",
        "channels": spec_channels,
        "observations": _observations(channels, observations, asimov_mu),
        "measurements": [{"name": measurement, "config": {"poi": poi, "parameters": []}}],
    }
    try:
        pyhf.Workspace(spec)
    except pyhf.exceptions.InvalidSpecification as error:
        raise InvalidConfig(f"the workspace fails pyhf's schema: {error}") from error
    return spec


def _carries(sample, poi):
    return any(m["type"] == "normfactor" and m["name"] == poi for m in sample["modifiers"])


def background_only(spec):
    """``spec`` without the samples that carry its parameter of interest, observing its
    background expectation: the common part of workspaces that differ only by their signal."""
    poi = spec["measurements"][0]["config"]["poi"]
    channels = [{**channel, "samples": [s for s in channel["samples"] if not _carries(s, poi)]} for channel in spec["channels"]]
    if any(not channel["samples"] for channel in channels):
        raise InvalidConfig("background_only: a channel holds only signal samples")
    observations = [{"name": channel["name"], "data": np.sum([s["data"] for s in channel["samples"]], axis=0).tolist()} for channel in channels]
    return {**spec, "channels": channels, "observations": observations}


def patchset(points, *, label, description, inspire):
    """(background-only spec, pyhf patchset) of workspaces ``points`` = [(name, value, spec)]
    that share their background: each patch (JSON Patch, RFC 6902) turns the background-only
    workspace into the point's workspace, its signal sample and its observations.

    ``label`` names the value of each point (for example the resonance mass); ``inspire`` is
    the record (``insNNNNNNN``) pyhf's patchset schema requires.
    """
    if not points:
        raise InvalidConfig("patchset: no workspaces")
    seen = {}
    for name, value, _ in points:
        if value in seen:
            raise InvalidConfig(f"patchset: '{seen[value]}' and '{name}' have the same {label} {value}: a patch is looked up by its value")
        seen[value] = name
    base = background_only(points[0][2])
    for name, _, spec in points[1:]:
        if background_only(spec) | {"observations": None} != base | {"observations": None}:
            raise InvalidConfig(f"patchset: the workspace of '{name}' has another background than '{points[0][0]}'")
    patches = [{"metadata": {"name": name, "values": [value]}, "patch": jsonpatch.make_patch(base, spec).patch} for name, value, spec in points]
    metadata = {"description": description, "digests": {"sha256": pyhf.utils.digest(base, algorithm="sha256")}, "labels": [label], "references": {"hepdata": inspire}}
    result = {"metadata": metadata, "patches": patches, "version": "1.0.0"}
    try:
        pyhf.PatchSet(result)
    except pyhf.exceptions.InvalidSpecification as error:
        raise InvalidConfig(f"the patchset fails pyhf's schema: {error}") from error
    return base, result
