"""python -m mlhep.bench {generate,process,taggers,unfolding,anomaly,oracles,training,mutation,plan} [--events N] [--config FILE ...] [--files ROOT ...]

generate: generation speed per sample against bare Pythia8 (N kept events per sample; --samples
to pick some).
process: coffea processing speed against a raw uproot read and peak memory, on N events (--events,
for example 1000000): the first of --files or, without it, 5000 freshly generated qcd_dijet
events, repeated with new event numbers into files of 100000 until there are N; the peak memory
also at N/10.
taggers: the mass-decorrelation trade-off of a finished run (results/taggers/summary.json,
for example after `make run`): the best 1/JSD at R50 >= 0.3x the plain MLP's.
unfolding: OmniFold against IBU and the prior in a finished run (results/unfolding/metrics.json);
with --seeds S ..., the nominal OmniFold redone with each seed on the run's columns. With
--variations (and --config config/config.yaml config/benchmark.yaml): every pseudo-data sample of
unfolding.variations unfolded once per --seeds seed, from their processed columns (--columns),
judged in the full phase space; --which held_out or tuning for one group, --tf-python the
interpreter of an environment with the TF `omnifold` package to run it beside (first seed);
writes results/benchmarks/unfolding_variations[_LABEL].json (--label).
anomaly: the bump hunt's targets in a finished run (results/anomaly/summary.json, after
`snakemake -c2 results/anomaly/summary.json --configfile config/benchmark.yaml`).
oracles: every headline number of a finished run against an independent reference (scikit-learn,
pyhf, cabinetry, dcor, closed forms, exact toys); --results and --config name the run (the
default run: results/ and config/config.yaml).
training: training and inference time of the torch taggers (--models) on --device (cpu or
cuda), from the columns of a run (--results); writes results/benchmarks/training_DEVICE.json.
mutation: mutmut on each module of the numeric core against its own fast tests (--modules to pick
some, --max-children workers); the accepted equivalent mutants are read from
tests/mutation_equivalents.yaml (needs the mutation extra: pip install -e '.[mutation]').
plan: the cost of the run of --config (for example config/config.yaml config/full.yaml) on a
cluster, from the Snakemake benchmark files of runs that were made (--run WORKDIR [CONFIG ...],
repeatable; config/config.yaml is implied, other config files are relative to WORKDIR): per rule
the jobs, CPU hours, longest job and peak memory against the mem_mb and runtime profiles/slurm gives them, the
total CPU hours and the wall time on --cores cores. --slice F writes data/bench/slice.yaml, the
samples of --config with a fraction F of the shards, for a run to measure.
Results go to results/benchmarks/NAME.json.
"""

import argparse
import datetime
import json
import sys
from pathlib import Path

import yaml

from mlhep.errors import MlhepError
from mlhep.io import write_json

_OUT = Path("results/benchmarks")


def _load_config(files, events):
    from mlhep.bench.plan import load_configs

    config = load_configs(files)
    for sample in config["samples"].values():
        sample["events_per_shard"] = events
    return config


def _generated_qcd(config, events, folder=Path("data/bench")):
    """A shard of ``events`` qcd_dijet events for the processing benchmark, generated once."""
    from mlhep.generate import SampleSpec
    from mlhep.generate.stage import generate_shard

    config["samples"]["qcd_dijet"]["events_per_shard"] = events
    path = folder / f"qcd_dijet_{events}_0.root"
    if not path.exists():
        generate_shard(SampleSpec.from_config(config, "qcd_dijet"), 0, path)
    return str(path)


def _plan(parser, args, argv):
    from mlhep.bench.plan import dry_run_jobs, load_configs, plan, sliced

    if args.slice is not None:
        if not 0 < args.slice <= 1:
            parser.error("--slice: a fraction in (0, 1]")
        path = Path("data/bench/slice.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(sliced(load_configs(args.config), args.slice)))
        print(f"wrote {path}; run it in a fresh checkout with: snakemake -c2 --configfile {' '.join(args.config)} {path}")
        return
    if not args.run:
        parser.error("plan: give at least one --run WORKDIR [CONFIG ...]")
    if args.cores < 1:
        parser.error("--cores: at least 1")
    try:
        runs = []
        for workdir, *extra in args.run:
            files = ["config/config.yaml", *extra]
            runs.append((workdir, [str(Path(workdir) / f) for f in files], dry_run_jobs(files, workdir)))
        result = plan(runs, args.config, dry_run_jobs(args.config, profile="profiles/slurm"), args.cores)
    except MlhepError as error:
        parser.exit(1, f"python -m mlhep.bench plan: {error}\n")
    result["profile"] = "profiles/slurm"
    result["date"] = datetime.date.today().isoformat()
    result["command"] = "python -m mlhep.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json(result, _OUT / "plan.json")
    print(json.dumps(result, indent=2))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mlhep.bench", description=__doc__)
    parser.add_argument("name", choices=["generate", "process", "taggers", "unfolding", "anomaly", "oracles", "training", "mutation", "plan"])
    parser.add_argument("--models", nargs="+", default=["mlp", "pfn", "disco_lambda_15", "adversarial_lambda_30", "mode_lambda_0.5"], help="training: the taggers to time")
    parser.add_argument("--device", default="cpu", help="training: cpu or cuda")
    parser.add_argument("--results", default="results", help="oracles: the results folder of the run to check")
    parser.add_argument("--omnifold-events", type=int, default=100_000, help="oracles: events of the OmniFold Gaussian toy")
    parser.add_argument("--files", nargs="*", help="process: a generated NanoAOD file (with its Runs tree) to repeat; only the first is used")
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"])
    parser.add_argument("--events", type=int, default=500, help="kept events per sample")
    parser.add_argument("--seeds", type=int, nargs="*", default=[], help="unfolding: OmniFold seeds to redo the nominal run with")
    parser.add_argument("--samples", nargs="*", help="generate: only these samples (default: every sample of the config)")
    parser.add_argument("--variations", action="store_true", help="unfolding: OmniFold on every pseudo-data of unfolding.variations")
    parser.add_argument("--which", choices=["all", "held_out", "tuning"], default="all", help="unfolding --variations: which variations")
    parser.add_argument("--tf-python", help="unfolding --variations: python of an environment with the TF omnifold package")
    parser.add_argument("--columns", default="results/columns", help="unfolding --variations: folder of the processed columns")
    parser.add_argument("--label", help="unfolding --variations: suffix of the output file")
    parser.add_argument("--modules", nargs="*", help="mutation: only these modules, as src/mlhep/... paths (default: all)")
    parser.add_argument("--max-children", type=int, default=2, help="mutation: mutants tested at once")
    parser.add_argument("--run", nargs="+", action="append", metavar="WORKDIR [CONFIG]", help="plan: a run that was made, its folder and extra config files")
    parser.add_argument("--cores", type=int, default=100, help="plan: cluster cores")
    parser.add_argument("--slice", type=float, help="plan: write data/bench/slice.yaml with this fraction of --config's shards")
    args = parser.parse_args(argv)
    if args.name == "plan":
        return _plan(parser, args, argv)
    config = _load_config(args.config, args.events)
    if args.name == "taggers":
        from mlhep.bench.taggers import bench_taggers

        result = bench_taggers("results/taggers/summary.json")
    elif args.name == "unfolding" and args.variations:
        from snakemake.utils import validate

        from mlhep.bench.unfolding import bench_variations

        validate(config, "workflow/schemas/config.schema.yaml")  # fills the defaults
        result = bench_variations(config, args.seeds or [config["seed"]], args.columns, args.which, args.tf_python)
        args.name = "unfolding_variations" + (f"_{args.label}" if args.label else "")
    elif args.name == "unfolding":
        from mlhep.bench.unfolding import bench_unfolding

        result = bench_unfolding("results/unfolding/metrics.json")
        if args.seeds:
            from snakemake.utils import validate

            from mlhep.bench.unfolding import seed_spread

            validate(config, "workflow/schemas/config.schema.yaml")  # fills the defaults
            settings = config["unfolding"]
            columns = [f"results/columns/{settings[key]}.parquet" for key in ("simulation", "data")]
            result["seed_spread"] = seed_spread(settings, *columns, args.seeds)
    elif args.name == "oracles":
        from snakemake.utils import validate

        from mlhep.bench.oracles import run_oracles

        validate(config, "workflow/schemas/config.schema.yaml")  # fills the defaults
        result = run_oracles(args.results, config, args.omnifold_events)
    elif args.name == "training":
        from mlhep.bench.training import bench_training

        columns = [f"{args.results}/columns/{config['taggers'][key]}.parquet" for key in ("signal", "background")]
        result = bench_training(config, *columns, args.models, args.device)
        args.name = f"training_{args.device.split(':')[0]}"
    elif args.name == "mutation":
        from mlhep.bench.mutation import bench_mutation

        result = bench_mutation(args.modules, args.max_children, previous=_OUT / "mutation.json" if args.modules else None)
    elif args.name == "anomaly":
        from mlhep.bench.anomaly import bench_anomaly

        result = bench_anomaly("results/anomaly/summary.json")
    elif args.name == "generate":
        from mlhep.bench.generate import bench_generate

        if args.samples:
            unknown = sorted(set(args.samples) - set(config["samples"]))
            if unknown:
                parser.error(f"--samples: {unknown} not in the config (defined: {', '.join(config['samples'])})")
            config["samples"] = {name: config["samples"][name] for name in args.samples}
        result = bench_generate(config, args.events)
    else:
        from mlhep.bench.process import bench_process

        if args.events < 1:
            parser.error("--events: give a positive number of events")
        source = args.files[0] if args.files else _generated_qcd(config, 5000)
        result = bench_process(source, args.events, "data/bench/repeated", config["processing"]["chunksize"])
    result["date"] = datetime.date.today().isoformat()
    result["command"] = "python -m mlhep.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json(result, _OUT / f"{args.name}.json")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
