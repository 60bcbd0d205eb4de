"""python -m mlhep.bench {generate,process,taggers,unfolding,anomaly} [--events N] [--config FILE ...] [--files ROOT ...]

generate: generation speed per sample against bare Pythia8 (N kept events per sample; --samples
to pick some).
process: coffea processing speed against a raw uproot read, on --files or, without them,
on N freshly generated qcd_dijet events.
taggers: the mass-decorrelation trade-off of a finished run (results/taggers/summary.json,
for example after `make run`): the best 1/JSD at R50 >= 0.3x the plain MLP's.
unfolding: OmniFold against IBU and the prior in a finished run (results/unfolding/metrics.json);
with --seeds S ..., the nominal OmniFold redone with each seed on the run's columns.
anomaly: the bump hunt's targets in a finished run (results/anomaly/summary.json, after
`snakemake -c2 results/anomaly/summary.json --configfile config/benchmark.yaml`).
Results go to results/benchmarks/NAME.json.
"""

import argparse
import datetime
import json
import sys
from pathlib import Path

import yaml
from snakemake.utils import update_config

from mlhep.io import write_json

_OUT = Path("results/benchmarks")


def _load_config(files, events):
    config = {}
    for path in files:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    for sample in config["samples"].values():
        sample["events_per_shard"] = events
    return config


def _generated_qcd(config, events, folder=Path("data/bench")):
    """qcd_dijet events for the processing benchmark, generated once in 4 shards."""
    from mlhep.generate import SampleSpec, generate_shard

    config["samples"]["qcd_dijet"]["events_per_shard"] = events // 4
    spec = SampleSpec.from_config(config, "qcd_dijet")
    files = [folder / f"qcd_dijet_{events}_{shard}.root" for shard in range(4)]
    for shard, path in enumerate(files):
        if not path.exists():
            generate_shard(spec, shard, path)
    return [str(f) for f in files]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mlhep.bench", description=__doc__)
    parser.add_argument("name", choices=["generate", "process", "taggers", "unfolding", "anomaly"])
    parser.add_argument("--files", nargs="*", help="ROOT files for the process benchmark")
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"])
    parser.add_argument("--events", type=int, default=500, help="kept events per sample")
    parser.add_argument("--seeds", type=int, nargs="*", default=[], help="unfolding: OmniFold seeds to redo the nominal run with")
    parser.add_argument("--samples", nargs="*", help="generate: only these samples (default: every sample of the config)")
    args = parser.parse_args(argv)
    config = _load_config(args.config, args.events)
    if args.name == "taggers":
        from mlhep.bench.taggers import bench_taggers

        result = bench_taggers("results/taggers/summary.json")
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

        files = args.files or _generated_qcd(config, args.events)
        result = bench_process(files)
    result["date"] = datetime.date.today().isoformat()
    result["command"] = "python -m mlhep.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json(result, _OUT / f"{args.name}.json")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
