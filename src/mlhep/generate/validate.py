"""Validation of generated samples: a per-sample summary with a cutflow, and control plots."""

from pathlib import Path

import awkward as ak
import mplhep
import numpy as np
import uproot
import vector

from mlhep.generate.nanoaod import open_events
from mlhep.io import write_json
from mlhep.plotting import figure, save

__all__ = ["validate_samples"]

_BRANCHES = ["FatJet_pt", "FatJet_eta", "FatJet_phi", "FatJet_mass", "FatJet_msoftdrop", "FatJet_tau1", "FatJet_tau2"]
_MUON_BRANCHES = ["Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"]
_PLOTS = {
    "mjj": (r"dijet mass $m_{jj}$ [GeV]", np.linspace(0, 5000, 51)),
    "fatjet_mass": ("leading two fat-jet masses [GeV]", np.linspace(0, 700, 71)),
    "fatjet_msoftdrop": ("leading two soft-drop masses [GeV]", np.linspace(0, 700, 71)),
    "tau21": (r"leading two fat-jet $\tau_{21}$", np.linspace(0, 1, 41)),
    "mumu": (r"dimuon mass $m_{\mu\mu}$ [GeV]", np.linspace(60, 120, 61)),
}


def validate_samples(files_by_sample, summary_path, plot_dir):
    """Summarize and plot generated samples.

    Args:
        files_by_sample: {sample: [ROOT files]}.
        summary_path: JSON output, per sample: events, generated, filter efficiency,
            cross section (pb) and a cutflow.
        plot_dir: folder for one PDF and PNG per observable, all samples overlaid.
    """
    summary, observables = {}, {}
    for sample, files in files_by_sample.items():
        summary[sample], observables[sample] = _sample_summary(files)
    plot_dir = Path(plot_dir)
    for name, (label, bins) in _PLOTS.items():
        fig, ax = figure()
        for sample, values in observables.items():
            if len(values[name]):
                counts, edges = np.histogram(values[name], bins=bins)
                mplhep.histplot(counts, edges, density=True, histtype="step", linewidth=2, label=sample, ax=ax)
        ax.set_xlabel(label)
        ax.set_ylabel("normalized")
        ax.legend(fontsize="small")
        save(fig, plot_dir / name)
    write_json(summary, summary_path)
    return summary


def _sample_summary(files):
    runs = [uproot.open(f)["Runs"].arrays(library="np") for f in files]
    generated = sum(int(r["nGeneratedEvents"][0]) for r in runs)
    events = sum(int(r["genEventCount"][0]) for r in runs)
    cross_section = sum(float(r["crossSection_pb"][0]) * int(r["nGeneratedEvents"][0]) for r in runs) / generated
    arrays = ak.concatenate([open_events(f).arrays(_BRANCHES + _MUON_BRANCHES) for f in files])
    fat = vector.zip({k.split("_", 1)[1]: arrays[k] for k in _BRANCHES[:4]})
    two_fat = ak.num(fat) >= 2
    lead = fat[two_fat][:, :2]
    muons = vector.zip({k.split("_", 1)[1]: arrays[k] for k in _MUON_BRANCHES[:4]})
    charge = arrays["Muon_charge"]
    two_mu = (ak.num(muons) >= 2) & ak.fill_none(ak.firsts(charge) * ak.firsts(charge[:, 1:]) < 0, False)
    mumu = muons[two_mu]
    tau1, tau2 = arrays["FatJet_tau1"][two_fat][:, :2], arrays["FatJet_tau2"][two_fat][:, :2]
    values = {
        "mjj": ak.to_numpy((lead[:, 0] + lead[:, 1]).mass),
        "fatjet_mass": ak.to_numpy(ak.flatten(lead.mass)),
        "fatjet_msoftdrop": ak.to_numpy(ak.flatten(arrays["FatJet_msoftdrop"][two_fat][:, :2])),
        "tau21": ak.to_numpy(ak.flatten(tau2[tau1 > 0] / tau1[tau1 > 0])),
        "mumu": ak.to_numpy((mumu[:, 0] + mumu[:, 1]).mass),
    }
    summary = {
        "files": len(files),
        "events": events,
        "generated": generated,
        "filter_efficiency": events / generated,
        "cross_section_pb": cross_section,
        "cutflow": {
            "generated": generated,
            "pass_filter": events,
            "two_fatjets": int(ak.sum(two_fat)),
            "two_opposite_sign_muons": int(ak.sum(two_mu)),
        },
        "medians": {k: float(np.median(v)) if len(v) else None for k, v in values.items()},
    }
    return summary, values
