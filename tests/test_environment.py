"""The conda environment mirrors the pinned dependencies of pyproject.toml."""

import tomllib

import yaml

from conftest import ROOT


def test_conda_environment_has_the_same_pins_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((ROOT / "envs" / "mlhep.yaml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    pins = {line for line in pip_section if not line.startswith("-")}
    assert pins == set(project["dependencies"])
    assert all("==" in pin for pin in pins)
