"""Mutation testing of the numeric core (issue 26): mutmut 3 on each module against its own fast tests.

Each module runs in its own scratch folder, ``build/mutation/<module>/`` (git-ignored), whose
``pyproject.toml`` is the project's with a ``[tool.mutmut]`` section naming that one module and
its tests; ``src``, ``tests``, ``config`` and ``workflow`` are links to the repository's, which
mutmut copies into ``mutants/`` there, so the working tree itself is never mutated. A mutant is
*killed* when a test fails on it (or it times out or crashes the test process), *equivalent*
when it survives and ``tests/mutation_equivalents.yaml`` lists it with the mutated line and a
reason, and *survived* otherwise (a mutant that no selected test reaches counts as survived).
The score of a module is (killed + equivalent) / mutants.
"""

import ast
import difflib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

__all__ = ["EQUIVALENTS", "MODULES", "bench_mutation", "module_score", "mutant_diffs", "summarize"]

ROOT = Path(__file__).resolve().parents[3]
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.yaml"
_SCRATCH = ROOT / "build" / "mutation"

# module -> the pytest arguments that select its own fast tests (never the workflow tests, nor
# tests that train networks for seconds: OmniFold, the density ratios and the decorrelated taggers
# are run against stand-ins of their classifiers, see tests/test_unfold_core.py and test_nsbi.py)
_STATS = "tests/test_stats.py::test_"
_NSBI = "tests/test_nsbi.py::test_"
MODULES = {
    "src/mlhep/ml/metrics.py": ["tests/test_metrics.py", "tests/test_ml.py::test_metrics_on_known_cases", "tests/test_anomaly.py::test_sic_hand_computed", "tests/test_anomaly.py::test_sic_perfect_classifier"],
    "src/mlhep/ml/decorrelation.py": ["tests/test_decorrelation.py", "tests/test_ml.py::test_distance_correlation_matches_dcor_and_counts_weights_as_frequencies", "tests/test_ml.py::test_a_diverging_training_stops_naming_the_model_the_epoch_and_the_loss"],
    "src/mlhep/ml/ratio.py": [
        f"{_NSBI}density_ratio_splits_balances_and_turns_scores_into_ratios",
        f"{_NSBI}density_ratio_reweighting_calibration_and_constituents",
        f"{_NSBI}ratio_helpers_by_hand",
        f"{_NSBI}calibration_is_monotone_and_repairs_a_miscalibrated_score",
        f"{_NSBI}bad_input_raises_clear_errors",
        f"{_NSBI}ratio_inputs_calibration_and_reliability_edges_by_hand",
        f"{_NSBI}density_ratio_messages_save_load_and_reliability",
    ],
    "src/mlhep/stats/fit.py": [
        f"{_STATS}small_workspace_fit_agrees_with_pyhf_and_its_closed_forms",
        f"{_STATS}limit_vs_mass_sorts_the_points",
        f"{_STATS}empty_background_bins_do_not_break_the_fit",
        f"{_STATS}ranking_orders_nuisance_parameters_by_impact",
        f"{_STATS}ranking_survives_a_staterror_whose_minus_one_sigma_is_negative",
        f"{_STATS}ranking_agrees_with_cabinetry",
        f"{_STATS}expected_band_is_resolved_when_the_observed_limit_lies_far_above_it",
        f"{_STATS}limit_above_the_default_poi_bound_from_any_bracket",
        f"{_STATS}limit_bracket_by_hand",
        f"{_STATS}ranking_by_hand_with_a_deficit_and_a_fixed_parameter",
        f"{_STATS}poi_bounds_and_limit_table_of_odd_inputs",
        f"{_STATS}fit_helpers_by_hand",
    ],
    "src/mlhep/stats/workspace.py": [
        f"{_STATS}workspace_modifiers_by_hand",
        f"{_STATS}bad_workspaces_are_named",
        f"{_STATS}templates_pair_their_variations",
        f"{_STATS}workspace_from_histograms_is_valid_and_complete",
        f"{_STATS}read_hists_round_trip_and_missing_key",
        f"{_STATS}bad_templates_raise_clear_errors",
        f"{_STATS}empty_background_bins_do_not_break_the_fit",
        f"{_STATS}workspace_input_edges_by_hand",
    ],
    "src/mlhep/stats/dijet_function.py": [
        f"{_STATS}dijet_function_integrals_and_yields_against_quad",
        f"{_STATS}dijet_function_fit_is_the_weighted_maximum_likelihood",
        f"{_STATS}dijet_function_fit_describes_its_own_events_and_its_uncertainty_covers_them",
        f"{_STATS}dijet_function_fit_needs_events",
        f"{_STATS}dijet_function_edges_precision_and_refusals",
        "tests/test_bumphunt.py::test_sideband_fit_predicts_the_signal_region_within_its_uncertainty",
    ],
    "src/mlhep/unfold/ibu.py": ["tests/test_unfold_core.py", "tests/test_unfold.py::test_ibu_recovers_gaussian_truth_with_efficiency_and_fakes", "tests/test_unfold.py::test_ibu_agrees_with_the_closed_form_two_bin_answers"],
    "src/mlhep/unfold/omnifold.py": ["tests/test_unfold_core.py", "tests/test_unfold.py::test_bad_inputs_raise_clear_errors", "tests/test_unfold.py::test_ensemble_weights_average_the_last_step_networks"],
    "src/mlhep/unfold/metrics.py": [
        "tests/test_unfold_core.py",
        "tests/test_unfold.py::test_triangular_discriminator_known_values",
        "tests/test_unfold.py::test_two_sample_auc_finds_a_known_shift_and_respects_weights",
        "tests/test_unfold.py::test_2d_histogram_and_its_discriminator_against_a_hand_computed_case",
    ],
    "src/mlhep/anomaly/metrics.py": ["tests/test_anomaly.py::test_sic_hand_computed", "tests/test_anomaly.py::test_sic_perfect_classifier", "tests/test_anomaly.py::test_sic_floor_is_exclusive_and_weights_count"],
    "src/mlhep/anomaly/bumphunt.py": [
        "tests/test_bumphunt.py::test_mjj_edges_and_closure_chi2_by_hand",
        "tests/test_bumphunt.py::test_sideband_estimate_covariance_and_a_large_background_uncertainty",
        "tests/test_bumphunt.py::test_sideband_fit_predicts_the_signal_region_within_its_uncertainty",
        "tests/test_bumphunt.py::test_excess_significance_matches_the_asymptotic_formula",
        "tests/test_bumphunt.py::test_sideband_estimate_names_its_events",
    ],
    "src/mlhep/nsbi/likelihood.py": [
        f"{_NSBI}nsbi_nll_is_its_definition_with_pyhf_interpolation",
        f"{_NSBI}nsbi_fit_scan_and_interval_of_a_counting_experiment",
        f"{_NSBI}interval_of_a_gaussian_scan_is_exact",
        f"{_NSBI}nsbi_likelihood_refuses_inconsistent_processes",
        f"{_NSBI}interpolation_code4_is_smooth_and_exact_at_the_knots",
        f"{_NSBI}code4_interpolation_agrees_with_pyhf",
        f"{_NSBI}exact_likelihood_is_minimal_at_the_injected_mu",
        f"{_NSBI}an_interval_that_reaches_mu_zero_starts_at_the_bound",
        f"{_NSBI}code4_system_is_the_value_and_two_derivatives_at_plus_and_minus_one",
        f"{_NSBI}profile_minimizes_the_nuisances_at_fixed_mu",
        f"{_NSBI}profile_scan_refits_only_without_a_best_fit",
        f"{_NSBI}nll_of_densities_below_one_and_process_constructors",
        f"{_NSBI}interval_edges_hand_computed",
        f"{_NSBI}profile_interval_of_a_deficit_starts_at_zero",
        f"{_NSBI}fits_and_scans_start_where_they_are_told",
    ],
    "src/mlhep/process/systematics.py": ["tests/test_systematics.py", "tests/test_seeds.py::test_jer_smearing_of_the_test_split_is_unbiased"],
    "src/mlhep/seeds.py": ["tests/test_seeds.py", "-k", "not hash_seed"],
    "src/mlhep/checks.py": [
        "tests/test_metrics.py",
        f"{_NSBI}bad_input_raises_clear_errors",
        f"{_NSBI}ratio_inputs_calibration_and_reliability_edges_by_hand",
        f"{_STATS}bad_templates_raise_clear_errors",
        f"{_STATS}workspace_input_edges_by_hand",
        "tests/test_nsubjettiness.py::test_bad_arguments",
        "tests/test_anomaly.py::test_bad_input",
        "tests/test_ml.py::test_nan_features_stop_the_tagger_data_naming_file_and_column",
    ],
}

# mutmut exit codes (mutmut.stats.status_by_exit_code): a failing test run (1, 3), a timeout
# (SIGXCPU: 24, -24, 152, 36, 255) or a crash of the test process (-11, -9) detect the mutant
_KILLED = {1, 3, 24, -24, 152, 36, 255, -11, -9, 37}
_UNDETECTED = {0, 5, 33}  # survived, or no selected test reaches the mutated function


def _slug(module):
    return module.removeprefix("src/mlhep/").removesuffix(".py").replace("/", ".")


def _toml_list(values):
    return "[" + ", ".join(json.dumps(str(v)) for v in values) + "]"


def _prepare(module, selection, fresh=True):
    """The scratch folder of one module: links to the tree and a pyproject.toml for mutmut."""
    work = _SCRATCH / _slug(module)
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests", "config", "workflow"):
        link = work / name
        if not link.exists():
            link.symlink_to(ROOT / name, target_is_directory=True)
    project = (ROOT / "pyproject.toml").read_text()
    section = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["src"]',
            f"only_mutate = {_toml_list([module])}",
            f"pytest_add_cli_args_test_selection = {_toml_list(['-m', 'not slow', *selection])}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider"]',
            'also_copy = ["config", "workflow"]',
            'process_isolation = "forkserver"',
            "use_git_change_detection = false",
            "",
        ]
    )
    (work / "pyproject.toml").write_text(project + section)
    return work


def mutant_diffs(mutated_source):
    """{function mangled name: {mutant number: the mutated lines}} of a file written by mutmut.

    mutmut writes each mutant as a whole function ``x_f__mutmut_N`` (methods
    ``xǁClassǁf__mutmut_N``) beside the original ``x_f__mutmut_orig``; the mutated lines are
    the lines of the mutant that the original lacks, stripped (its ``def`` line with the
    function's own name, where a mutated default argument shows).
    """
    functions = {}
    for node in ast.walk(ast.parse(mutated_source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "__mutmut_" in node.name:
            base, _, tag = node.name.rpartition("__mutmut_")
            lines = ast.get_source_segment(mutated_source, node).splitlines()
            lines[0] = lines[0].replace(node.name, base, 1)  # a mutated default argument shows there
            functions.setdefault(base, {})[tag] = lines
    diffs = {}
    for base, versions in functions.items():
        original = versions.pop("orig", None)
        if original is None:
            continue
        for tag, lines in versions.items():
            if tag.isdigit():
                added = [line[1:].strip() for line in difflib.ndiff(original, lines) if line.startswith("+ ")]
                diffs.setdefault(base, {})[int(tag)] = added
    return diffs


def _load_equivalents(path=EQUIVALENTS):
    data = yaml.safe_load(Path(path).read_text()) if Path(path).exists() else None
    return data or {}


def module_score(exit_codes, diffs, equivalents):
    """Counts of one module from mutmut's exit codes {mutant name: code}.

    ``diffs`` maps each mutant name to its mutated lines; ``equivalents`` {mutant name:
    {"mutated": line, "reason": why}} lists the accepted equivalent mutants: one counts only
    when it went undetected and its mutated line is still the listed one (a stale entry, whose
    number now names another mutant after an edit of the module, counts as survived).

    Returns:
        ({"mutants", "killed", "equivalent", "survived", "score"}, survivor names, stale names)
    """
    killed = equivalent = 0
    survivors, stale = [], []
    for name, code in sorted(exit_codes.items()):
        if code in _KILLED:
            killed += 1
            continue
        if code is not None and code not in _UNDETECTED:
            raise RuntimeError(f"mutant {name}: unexpected mutmut exit code {code}")
        entry = equivalents.get(name)
        if entry is not None and " ".join(entry["mutated"].split()) in {" ".join(line.split()) for line in diffs.get(name, [])}:
            equivalent += 1
        else:
            survivors.append(name)
            if entry is not None:
                stale.append(name)
    n = len(exit_codes)
    counts = {"mutants": n, "killed": killed, "equivalent": equivalent, "survived": n - killed - equivalent, "score": (killed + equivalent) / n if n else 1.0}
    return counts, survivors, stale


def summarize(modules):
    """The benchmark's JSON from the per-module counts: ``{"modules": ..., "score": overall}``,
    the overall score being (killed + equivalent) / mutants over all modules together."""
    n = sum(m["mutants"] for m in modules.values())
    detected = sum(m["killed"] + m["equivalent"] for m in modules.values())
    return {"modules": modules, "score": detected / n if n else 1.0}


def _read_module(work, module):
    meta = json.loads((work / "mutants" / f"{module}.meta").read_text())
    exit_codes = meta["exit_code_by_key"]
    per_function = mutant_diffs((work / "mutants" / module).read_text())
    prefix = module.removeprefix("src/").removesuffix(".py").replace("/", ".")
    diffs = {}
    for name in exit_codes:
        base, _, tag = name.removeprefix(prefix + ".").rpartition("__mutmut_")
        diffs[name] = per_function.get(base, {}).get(int(tag), [])
    return exit_codes, diffs


def run_module(module, max_children=2, fresh=True, log=None):
    """Run mutmut on one module against its selected tests; returns (exit codes, diffs, seconds)."""
    work = _prepare(module, MODULES[module], fresh)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1", PYTHONHASHSEED="0")
    env.pop("MUTANT_UNDER_TEST", None)
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)]
    start = time.monotonic()
    with open(log or work / "mutmut.log", "w") as out:
        done = subprocess.run(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f"mutmut failed on {module} (exit {done.returncode}): see {work / 'mutmut.log'}")
    exit_codes, diffs = _read_module(work, module)
    return exit_codes, diffs, seconds


def bench_mutation(modules=None, max_children=2, fresh=True, previous=None):
    """Mutation scores of ``modules`` (default: all of MODULES), one mutmut run each.

    ``previous``: an earlier mutation.json whose other modules are kept (to rerun a few modules).

    Returns the benchmark's JSON: ``{"modules": {module: {"mutants", "killed", "equivalent",
    "survived", "score"}}, "score": overall}``, plus per-module wall times, the surviving
    mutants with their mutated lines, stale equivalence entries and the tool's version.
    """
    from importlib.metadata import version

    modules = modules or list(MODULES)
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        raise ValueError(f"not a mutated module: {unknown} (known: {', '.join(MODULES)})")
    equivalents = _load_equivalents()
    counts, seconds, survivors, stale, tests = {}, {}, {}, {}, {}
    if previous is not None and Path(previous).exists():
        old = json.loads(Path(previous).read_text())
        for module in set(old["modules"]) & set(MODULES) - set(modules):
            counts[module], seconds[module] = old["modules"][module], old["seconds"][module]
            survivors[module], tests[module] = old["survivors"][module], old["tests"][module]
            if module in old["stale_equivalents"]:
                stale[module] = old["stale_equivalents"][module]
    for module in modules:
        tests[module] = MODULES[module]
        print(f"mutmut: {module} ...", file=sys.stderr, flush=True)
        exit_codes, diffs, seconds[module] = run_module(module, max_children, fresh)
        counts[module], names, stale_names = module_score(exit_codes, diffs, equivalents.get(module, {}))
        survivors[module] = {name: diffs[name] for name in names}
        if stale_names:
            stale[module] = stale_names
        print(f"mutmut: {module}: {counts[module]} in {seconds[module]:.0f} s", file=sys.stderr, flush=True)
    order = [m for m in MODULES if m in counts]
    result = summarize({m: counts[m] for m in order})
    result["seconds"] = {m: round(seconds[m], 1) for m in order}
    result["survivors"] = {m: survivors[m] for m in order}
    result["stale_equivalents"] = stale
    result["tool"] = f"mutmut {version('mutmut')}"
    result["tests"] = {m: tests[m] for m in order}
    return result

