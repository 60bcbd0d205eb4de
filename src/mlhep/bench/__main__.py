"""python -m mlhep.bench {generate} [--events N] [--config FILE ...]: run a benchmark, write JSON."""

import argparse
import datetime
import json
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mlhep.bench", description=__doc__)
    parser.add_argument("name", choices=["generate"])
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"])
    parser.add_argument("--events", type=int, default=500, help="kept events per sample")
    args = parser.parse_args(argv)
    config = _load_config(args.config, args.events)
    if args.name == "generate":
        from mlhep.bench.generate import bench_generate

        result = bench_generate(config, args.events)
    result["date"] = datetime.date.today().isoformat()
    result["command"] = "python -m mlhep.bench " + " ".join(argv or [args.name])
    write_json(result, _OUT / f"{args.name}.json")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
