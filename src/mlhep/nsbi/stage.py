"""The NSBI stage: mu of the W' signal in the dijet events from learned per-event ratios with the
jet energy scale as nuisance parameter, against binned pyhf fits of the same events."""

import json
import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pyhf

from mlhep import seeds
from mlhep.checks import require_finite
from mlhep.columns import JET_FEATURES, dijet_columns, read_columns, split
from mlhep.errors import BadInputFile, EmptySelection
from mlhep.io import atomic_folder, write_json
from mlhep.ml.ratio import DensityRatio
from mlhep.ml.training import TrainConfig
from mlhep.nsbi.likelihood import Fit, NSBILikelihood, Process, ProfileScan, interval, profile_interval
from mlhep.nsbi.toy import GaussianOnExponential
from mlhep.process.systematics import vary_columns
from mlhep.stats.fit import model_and_data
from mlhep.stats.workspace import SampleInput, build_workspace

__all__ = ["dijet_features", "load_models", "nsbi_interval", "run_nsbi", "save_models", "toy_validation"]

log = logging.getLogger(__name__)

_PROCESSES = ("signal", "background")
_VARIATIONS = {"up": "jes_up", "down": "jes_down"}


# the columns of dijet_features
FEATURE_NAMES = ["mjj", *(f"{feature}_j{jet}" for jet in (1, 2) for feature in JET_FEATURES)]


def dijet_features(columns, variation, systematics, seed):
    """(events, 15) features: mjj and the seven jet features of each jet, after ``variation``."""
    jets, mjj = vary_columns(columns, variation, systematics["jes_uncertainty"], systematics["jer_extra"], seed)
    return np.column_stack([mjj, *(jet[f] for jet in jets for f in JET_FEATURES)])


def _sample(path, settings, systematics, seed):
    """Per variation: (features, weights) of the train+validation and of the test events in the window."""
    columns = read_columns(path, dijet_columns())
    train, validation, test = split(ak.to_numpy(columns.event), seed)
    weight = ak.to_numpy(columns.weight).astype(np.float64)
    low, high = settings["window"]
    out = {}
    for side, variation in {"nominal": "nominal", **_VARIATIONS}.items():
        X = dijet_features(columns, variation, systematics, seed)
        require_finite(X, FEATURE_NAMES, f"{path} ({variation})")
        inside = (X[:, 0] >= low) & (X[:, 0] < high)
        out[side] = {"train": (X[inside & (train | validation)], weight[inside & (train | validation)]), "test": (X[inside & test], weight[inside & test])}
    if len(out["nominal"]["test"][0]) < 10:
        raise EmptySelection(f"{path}: {len(out['nominal']['test'][0])} test events in the mjj window {low:g}-{high:g} GeV")
    return out


def _ratio(settings, seed, *keys):
    """An untrained DensityRatio of the settings, seeded from the "training" stream of (seed, keys)."""
    seed = seeds.integer("training", seed, *keys)
    return DensityRatio(hidden=tuple(settings["hidden"]), ensemble=settings["ensemble"], train=TrainConfig(**{**settings["train"], "seed": seed}), seed=seed)


def _binned_scan(channels, mu_injected, points=25):
    """Profile scan of a pyhf fit (JES profiled, no MC statistics) to Asimov data at
    ``mu_injected``, over the best fit +- 4 HESSE errors: a ProfileScan."""
    spec = build_workspace({"channel": channels}, asimov_mu=mu_injected)
    model, data = model_and_data(spec)
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0))
    result, best = pyhf.infer.mle.fit(data, model, return_uncertainties=True, return_fitted_val=True)
    mu_hat, mu_error = (float(v) for v in result[model.config.poi_index])
    pyhf.set_backend("numpy", "scipy")
    mu = np.linspace(max(0.0, mu_hat - 4 * mu_error), mu_hat + 4 * mu_error, points)
    q = np.array([float(pyhf.infer.mle.fixed_poi_fit(value, data, model, return_fitted_val=True)[1]) - float(best) for value in mu])
    return ProfileScan(mu, q, np.zeros((points, 1)), Fit(mu_hat, mu_error, {}, float(best) / 2, True))


def _template(values, weights, edges):
    return np.histogram(values, edges, weights=weights)[0]


def _trained_ratios(settings, samples, seed):
    """The signal-vs-background classifier, and per process the JES up and down shape ratios and
    norm factors."""
    (signal_X, signal_w), (background_X, background_w) = (samples[p]["nominal"]["train"] for p in _PROCESSES)
    classifier = _ratio(settings, seed, "classifier").fit(signal_X, background_X, signal_w, background_w)
    shapes, norms = {}, {}
    for p in _PROCESSES:
        nominal = samples[p]["nominal"]
        shapes[p] = {side: _ratio(settings, seed, "jes", p, side).fit(samples[p][side]["train"][0], nominal["train"][0], samples[p][side]["train"][1], nominal["train"][1]) for side in _VARIATIONS}
        norms[p] = tuple(samples[p][side]["test"][1].sum() / nominal["test"][1].sum() for side in _VARIATIONS)
    return classifier, shapes, norms


def save_models(folder, classifier, shapes, norms, expected, settings):
    """The learned ratios of the likelihood, to be reused without mlhep's workflow: the
    signal-vs-background classifier in ``folder``/classifier, each process's JES shape ratios in
    ``folder``/{process}_jes_{up,down} (mlhep.ml.ratio.DensityRatio folders), and
    likelihood.json: the features in order, the mjj window, the expected yields and the JES
    norm factors (up, down) per process."""
    with atomic_folder(folder) as built:
        classifier.save(built / "classifier")
        for process, sides in shapes.items():
            for side, ratio in sides.items():
                ratio.save(built / f"{process}_jes_{side}")
        write_json({"features": list(FEATURE_NAMES), "window": list(settings["window"]), "expected": expected, "jes_norms": {p: list(n) for p, n in norms.items()}}, built / "likelihood.json")


def load_models(folder):
    """(classifier, shapes, norms, expected) as save_models wrote them."""
    folder = Path(folder)
    try:
        saved = json.loads((folder / "likelihood.json").read_text())
        norms, expected = {p: tuple(float(v) for v in saved["jes_norms"][p]) for p in _PROCESSES}, {p: float(saved["expected"][p]) for p in _PROCESSES}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BadInputFile(f"{folder / 'likelihood.json'}: not the likelihood file of save_models ({err!r})") from err
    shapes = {p: {side: DensityRatio.load(folder / f"{p}_jes_{side}") for side in _VARIATIONS} for p in _PROCESSES}
    return DensityRatio.load(folder / "classifier"), shapes, norms, expected


def _processes(samples, expected, classifier, shapes, norms):
    """The pool of held-out events, the process each came from, and the likelihood's per-event
    inputs computed once on the pool: {process: Process}."""
    pool = np.concatenate([samples[p]["nominal"]["test"][0] for p in _PROCESSES])
    origin = np.concatenate([np.full(len(samples[p]["nominal"]["test"][0]), i) for i, p in enumerate(_PROCESSES)])
    to_reference = dict(zip(_PROCESSES, classifier.log_mixture_ratios(pool)))
    processes = {
        p: Process(
            p,
            expected[p],
            to_reference[p],
            {"jes": (shapes[p]["up"].log_ratio(pool), shapes[p]["down"].log_ratio(pool))},
            {"jes": norms[p]},
            signal=p == "signal",
            mc_shape={"jes": (shapes[p]["up"].log_ratio(pool[origin == i]), shapes[p]["down"].log_ratio(pool[origin == i]))},
        )
        for i, p in enumerate(_PROCESSES)
    }
    return origin, processes


def _likelihood(processes, rows, weight):
    """The NSBI likelihood of the pool's events ``rows`` with per-event ``weight``."""
    parts = [Process(q.name, q.expected, q.log_ratio[rows], {k: (u[rows], d[rows]) for k, (u, d) in q.shape.items()}, q.norm, q.signal, q.mc_shape) for q in processes.values()]
    return NSBILikelihood(parts, weight)


def _binned_fits(settings, samples, expected, classifier, seed):
    """Binned pyhf fits of the same test events, in mjj and in the classifier score, JES as
    histosys + normsys and no MC statistics (as NSBI): {name: ProfileScan}."""
    scores = {side: {p: classifier.score(samples[p][side]["test"][0]) for p in _PROCESSES} for side in ("nominal", *_VARIATIONS)}
    mjj_edges = np.linspace(*settings["window"], settings["bins"] + 1)
    # equally populated in the balanced mixture of signal and background: bins where S/B is large too
    rng = seeds.generator("sampling", seed, "score_bins")
    mixture = np.concatenate([rng.choice(scores["nominal"][p], 10000) for p in _PROCESSES])
    score_edges = np.quantile(mixture, np.linspace(0, 1, settings["bins"] + 1))
    score_edges[0], score_edges[-1] = 0.0, 1.0
    scans = {}
    for name, values, edges in (("binned_mjj", lambda p, side: samples[p][side]["test"][0][:, 0], mjj_edges), ("binned_score", lambda p, side: scores[side][p], score_edges)):
        channels = {}
        for p in _PROCESSES:
            scale = expected[p] / samples[p]["nominal"]["test"][1].sum()
            hists = {side: _template(values(p, side), samples[p][side]["test"][1] * scale, edges) for side in ("nominal", *_VARIATIONS)}
            channels[p] = SampleInput(hists["nominal"], variations={"jes": (hists["up"], hists["down"])}, signal=p == "signal")
        scans[name] = _binned_scan(channels, settings["injected_mu"])
    return scans


def _coverage(settings, processes, origin, expected, seed):
    """The fraction of Poisson pseudo-experiments, drawn from the held-out events, whose NSBI 68 %
    interval holds the injected mu."""
    rng = seeds.generator("toys", seed)
    mu_injected, covered = settings["injected_mu"], 0
    for _ in range(settings["toys"]):
        rows = np.concatenate([rng.choice(np.flatnonzero(origin == i), rng.poisson(mu_injected * expected[p] if p == "signal" else expected[p])) for i, p in enumerate(_PROCESSES)])
        (toy_low, toy_high), _ = profile_interval(_likelihood(processes, rows, None), 0.68, points=15)
        covered += toy_low <= mu_injected <= toy_high
    return covered / settings["toys"]


def nsbi_interval(settings, samples, expected, classifier, shapes, norms):
    """The NSBI fit of mu to the held-out events weighted as Asimov-like data at the injected mu
    (each process scaled to its expected yield): (origin, processes, 68 % interval, scan)."""
    origin, processes = _processes(samples, expected, classifier, shapes, norms)
    counts = np.bincount(origin)
    asimov = np.where(origin == 0, settings["injected_mu"] * expected["signal"] / counts[0], expected["background"] / counts[1])
    asimov *= np.concatenate([samples[p]["nominal"]["test"][1] / samples[p]["nominal"]["test"][1].mean() for p in _PROCESSES])
    interval68, scan = profile_interval(_likelihood(processes, slice(None), asimov), 0.68)
    return origin, processes, interval68, scan


def run_nsbi(settings, signal_path, background_path, systematics, seed, out_dir, plot_dir):
    """Train the ratios, fit mu with NSBI and with binned pyhf fits (mjj, classifier score) on the
    same Asimov-like test events, run the coverage pseudo-experiments and the exact toy; write
    ``out_dir``/metrics.json and the plots. Memory: the dijet features of both samples (all
    splits: training and test sets) at once, read with only those columns."""
    from mlhep.nsbi.plots import plot_calibration, plot_scans, plot_toy_ratio

    log.info("NSBI: %s against %s, systematics %s, settings %s", signal_path, background_path, systematics, {k: v for k, v in settings.items() if k != "train"})
    samples = {"signal": _sample(signal_path, settings, systematics, seed), "background": _sample(background_path, settings, systematics, seed)}
    expected = {"signal": float(settings["signal_events"]), "background": float(settings["background_events"])}
    classifier, shapes, norms = _trained_ratios(settings, samples, seed)
    save_models(f"{out_dir}/models", classifier, shapes, norms, expected, settings)
    origin, processes, (low, high), nsbi_scan = nsbi_interval(settings, samples, expected, classifier, shapes, norms)
    scans = {"NSBI": nsbi_scan, **_binned_fits(settings, samples, expected, classifier, seed)}
    results = {"nsbi": {"mu_hat": nsbi_scan.best.mu, "width68": high - low, "interval68": [low, high]}}
    for name in ("binned_mjj", "binned_score"):
        low, high = interval(scans[name], 0.68)
        results[name] = {"mu_hat": scans[name].best.mu, "width68": high - low, "interval68": [low, high]}
    coverage = _coverage(settings, processes, origin, expected, seed)
    toy = toy_validation(settings, seed)
    metrics = {**results, "coverage68": coverage, "n_toys": settings["toys"], "toy_exact": toy.pop("summary")}
    metrics["scans"] = {name: {"mu": scan.mu.tolist(), "q": scan.q.tolist()} for name, scan in scans.items()}
    calibration = {"signal vs background": classifier.reliability(samples["signal"]["nominal"]["test"][0], samples["background"]["nominal"]["test"][0])}
    write_json(metrics, f"{out_dir}/metrics.json")
    plot_scans({name: (scan.mu, scan.q) for name, scan in scans.items()}, f"{plot_dir}/scan")
    plot_calibration(calibration, f"{plot_dir}/calibration")
    plot_toy_ratio(toy["exact"], toy["learned"], f"{plot_dir}/toy_log_ratio")
    log.info("NSBI: %s, 68%% coverage %.3f over %d toys", results, coverage, settings["toys"])
    return metrics


def toy_validation(settings, seed, train_events=15000):
    """On GaussianOnExponential (exact likelihood): the learned signal-vs-background log-ratio
    against the exact one, and the NSBI 68 % interval on mu against the exact-likelihood one on
    the same pseudo-data.

    Returns:
        {"summary": {"logratio_rms", "width68_exact", "width68_nsbi"}, "exact": ..., "learned": ...}
        (per-event exact and learned log-ratios of held-out events for plotting).
    """
    toy = GaussianOnExponential()

    def events(process, n, key, alpha=0.0):
        return toy.sample(process, n, alpha, seed=seeds.integer("toys", seed, key))

    classifier = _ratio(settings, seed, "toy", "classifier").fit(events("signal", train_events, "train"), events("background", train_events, "train"))
    shapes = {}
    for p in _PROCESSES:
        nominal = events(p, train_events, "nominal")
        shapes[p] = tuple(_ratio(settings, seed, "toy", "jes", p, alpha).fit(events(p, train_events, "nominal", alpha), nominal) for alpha in (1.0, -1.0))
    X, weight = toy.pseudo_data(mu=1.0, seed=seeds.integer("toys", seed, "pseudo_data"))
    held_out = np.concatenate([events(p, 5000, "held_out") for p in _PROCESSES])
    exact_log = toy.log_ratio(held_out, ("signal", 0.0), ("background", 0.0))
    learned_log = classifier.log_ratio(held_out)
    bulk = np.abs(exact_log) < 3
    to_reference = dict(zip(_PROCESSES, classifier.log_mixture_ratios(X)))
    processes = []
    mc_seed = seeds.integer("toys", seed, "mc")
    for p in _PROCESSES:
        norm = {"jes": (toy.expected(p, 1.0) / toy.expected(p), toy.expected(p, -1.0) / toy.expected(p))}
        mc = toy.sample(p, train_events, seed=mc_seed)
        processes.append(Process.from_ratios(p, toy.expected(p), X, to_reference[p], {"jes": shapes[p]}, norm, signal=p == "signal", mc=mc))
    (nsbi_low, nsbi_high), _ = profile_interval(NSBILikelihood(processes, weight), 0.68)
    (exact_low, exact_high), _ = profile_interval(toy.exact_likelihood(X, weight, mc_events=train_events, seed=mc_seed), 0.68)
    summary = {
        "logratio_rms": float(np.sqrt(np.mean((learned_log - exact_log)[bulk] ** 2))),
        "width68_exact": exact_high - exact_low,
        "width68_nsbi": nsbi_high - nsbi_low,
    }
    return {"summary": summary, "exact": exact_log, "learned": learned_log}
