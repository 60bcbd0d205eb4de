"""The mutation benchmark's bookkeeping (issue 26): mutated lines read from a file as mutmut writes
it, the counts and score of a module, accepted equivalent mutants and stale ones, and the
selections of every mutated module. mutmut itself runs only in `make mutation`."""

import ast
import re
from pathlib import Path

import pytest
import yaml

from mlhep.bench.mutation import EQUIVALENTS, MODULES, module_score, mutant_diffs, summarize

ROOT = Path(__file__).resolve().parents[1]

# the shape of a file mutmut 3 writes: the original and each mutant as whole functions, methods
# inside their class, named x_<function>__mutmut_<n> (x<sep>Class<sep>method__mutmut_<n>)
MUTATED = '''
def x_area__mutmut_orig(width, height):
    """Area."""
    return width * height


def x_area__mutmut_1(width, height):
    """Area."""
    return width / height


def x_area__mutmut_2(width, height):
    """Area."""
    return None


def x_area__mutmut_3(width, height=2):
    """Area."""
    return width * height


class Box:
    def xǁBoxǁside__mutmut_orig(self):
        half = self.size / 2
        return 2 * half

    def xǁBoxǁside__mutmut_1(self):
        half = self.size / 3
        return 2 * half
'''


def test_mutated_lines_are_read_per_function():
    diffs = mutant_diffs(MUTATED)
    assert diffs == {
        "x_area": {1: ["return width / height"], 2: ["return None"], 3: ["def x_area(width, height=2):"]},
        "xǁBoxǁside": {1: ["half = self.size / 3"]},
    }


def test_module_score_counts_killed_equivalent_and_surviving_mutants():
    codes = {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 0, "m.x_f__mutmut_3": 0, "m.x_f__mutmut_4": -24, "m.x_f__mutmut_5": 33, "m.x_f__mutmut_6": 0}
    diffs = {name: [f"line {name[-1]}"] for name in codes}
    equivalents = {
        "m.x_f__mutmut_2": {"mutated": "line  2", "reason": "whitespace does not matter"},
        "m.x_f__mutmut_3": {"mutated": "line 9", "reason": "stale: mutant 3 now mutates another line"},
        "m.x_f__mutmut_1": {"mutated": "line 1", "reason": "a killed mutant listed as equivalent stays killed"},
    }
    counts, survivors, stale = module_score(codes, diffs, equivalents)
    # killed: exit 1 (a test failed) and -24 (timeout); 33 (no test reaches it) survives
    assert counts == {"mutants": 6, "killed": 2, "equivalent": 1, "survived": 3, "score": 0.5}
    assert survivors == ["m.x_f__mutmut_3", "m.x_f__mutmut_5", "m.x_f__mutmut_6"] and stale == ["m.x_f__mutmut_3"]
    with pytest.raises(RuntimeError, match="mutant m.x_f__mutmut_1: unexpected mutmut exit code 2"):
        module_score({"m.x_f__mutmut_1": 2}, {}, {})
    assert module_score({}, {}, {})[0]["score"] == 1.0
    result = summarize({"a.py": counts, "b.py": {"mutants": 4, "killed": 4, "equivalent": 0, "survived": 0, "score": 1.0}})
    assert result["score"] == pytest.approx(7 / 10) and set(result["modules"]) == {"a.py", "b.py"}


def test_every_listed_module_has_tests_and_every_equivalent_a_reason():
    assert len(MODULES) == 15  # the 13 of issue 26, seeds.py, and checks.py (the validators moved there)
    for module, selection in MODULES.items():
        assert (ROOT / module).is_file(), module
        files = {arg.split("::")[0] for arg in selection if arg.startswith("tests/")}
        assert files and all((ROOT / f).is_file() for f in files), module
        assert "tests/test_workflow.py" not in files  # never the workflow tests
    equivalents = yaml.safe_load(EQUIVALENTS.read_text()) or {}
    assert set(equivalents) <= set(MODULES)
    for module, entries in equivalents.items():
        prefix = module.removeprefix("src/").removesuffix(".py").replace("/", ".") + "."
        for name, entry in entries.items():
            assert name.startswith(prefix) and "__mutmut_" in name, name
            assert set(entry) == {"mutated", "reason"} and entry["reason"].strip() and entry["mutated"].strip(), name
    # an unquoted " #" starts a YAML comment: the listed line would lose its end and never match
    unquoted_comment = [line for line in EQUIVALENTS.read_text().splitlines() if re.match(r"\s*mutated: [^'\"].* #", line)]
    assert not unquoted_comment, unquoted_comment


def test_the_selected_tests_exist():
    """Every node id of the selections names a test function of its file (a renamed test would
    leave its module's mutants to fewer tests without a word)."""
    node_ids = {arg for selection in MODULES.values() for arg in selection if "::" in arg}
    tests = {}
    for path in {node_id.split("::")[0] for node_id in node_ids}:
        tests[path] = {node.name for node in ast.parse((ROOT / path).read_text()).body if isinstance(node, ast.FunctionDef)}
    for node_id in node_ids:
        path, name = node_id.split("::")
        assert name in tests[path], node_id
