"""Bump-hunt benchmark: the targets of the anomaly stage on a finished run's summary."""

import json
from pathlib import Path

__all__ = ["CATHODE_PAPER", "bench_anomaly"]

# max SIC on the LHC Olympics R&D data with 1000 injected signal events (S/sqrt(B) = 2.14),
# CATHODE paper (Hallin et al., arXiv:2109.00546); a different dataset from ours
CATHODE_PAPER = {"supervised": 17.65, "idealized": 15.08, "cathode": 13.99, "cwola": 10.75, "anode": 6.46}


def bench_anomaly(summary_path, min_sr_background=30000, min_seeds=5, min_fraction_of_idealized=0.85, max_closure=2.0):
    """The targets on ``results/anomaly/summary.json`` of the benchmark config: at least
    ``min_sr_background`` SR background events and ``min_seeds`` seeds at the headline
    injection; there, CATHODE's median max SIC at least ``min_fraction_of_idealized`` of the
    idealized detector's and above CWoLa hunting's; closure chi2/ndf below ``max_closure``."""
    summary = json.loads(Path(summary_path).read_text())
    headline = summary["injections"][summary["headline"]]
    sic = {method: headline[method]["max_sic_median"] for method in ("supervised", "idealized", "cathode", "cwola")}
    checks = {
        "sr_background_events": summary["sr_background_events"] >= min_sr_background,
        "seeds": summary["seeds"] >= min_seeds,
        "cathode_vs_idealized": sic["cathode"] >= min_fraction_of_idealized * sic["idealized"],
        "cathode_vs_cwola": sic["cathode"] > sic["cwola"],
        "closure": summary["closure_chi2_ndf"] is not None and summary["closure_chi2_ndf"] < max_closure,
    }
    return {
        "summary": str(summary_path),
        "headline": summary["headline"],
        "max_sic_median": sic,
        "cathode_over_idealized": sic["cathode"] / sic["idealized"],
        "cathode_paper": CATHODE_PAPER,
        "closure_chi2_ndf": summary["closure_chi2_ndf"],
        "sr_background_events": summary["sr_background_events"],
        "seeds": summary["seeds"],
        "seconds_median": summary["seconds_median"],
        "checks": checks,
        "target_met": all(checks.values()),
    }
