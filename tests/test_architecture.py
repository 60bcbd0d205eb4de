"""The layers of src/mlhep (docs/ARCHITECTURE.md), read from the import graph and the code:
foundations import only foundations, method libraries never import a stage, no stage imports
another, stage functions stay short, and the linter is clean."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

FOUNDATIONS = {"mlhep", "mlhep.errors", "mlhep.io", "mlhep.seeds", "mlhep.checks", "mlhep.columns", "mlhep.config", "mlhep.plotting"}
LIBRARIES = ("generate", "process", "ml", "stats", "anomaly", "unfold", "nsbi", "publish")
WHOLE_RUN_STAGES = {"mlhep.report", "mlhep.manifest"}  # the report and the manifest of every output
MAX_STAGE_FUNCTION_LINES = 60
# a noqa comment names its codes and, in parentheses, why (as the one in stats/fit.py)
NOQA_WITH_REASON = re.compile(r"# noqa: [A-Z]+[0-9]+(, [A-Z]+[0-9]+)* \(\w[^)]*\)")


def module_name(path, src=SRC):
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(src=SRC):
    """{module: set of mlhep modules it imports}, anywhere in the module (also inside functions):
    import statements, absolute or relative, and importlib.import_module("...") with a literal."""
    modules = {module_name(path, src): path for path in src.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *([node.module] if node.module else [])]) if node.level else node.module
                # `from mlhep import seeds` imports the module mlhep.seeds
                imported |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names}
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
                imported.add(node.args[0].value)
        graph[name] = {module for module in imported if module.split(".")[0] == "mlhep"}
    return graph


def is_stage(module):
    return module.endswith(".stage") or module in WHOLE_RUN_STAGES


def layer_violations(graph):
    """Edges that break the layers: [(importer, imported, rule)]."""
    found = []
    for module, imports in graph.items():
        for target in imports:
            if module in FOUNDATIONS and target not in FOUNDATIONS:
                found.append((module, target, "a foundation imports only foundations"))
            if target.startswith("mlhep.bench") and not module.startswith("mlhep.bench"):
                found.append((module, target, "only the benchmarks import the benchmarks"))
            if is_stage(target) and not is_stage(module) and not module.startswith("mlhep.bench"):
                found.append((module, target, "a method library never imports a stage"))
            if is_stage(module) and is_stage(target) and target != module:
                found.append((module, target, "no stage imports another stage"))
    return sorted(found)


def test_the_import_graph_sees_absolute_relative_and_dynamic_imports(tmp_path):
    package = tmp_path / "mlhep"
    for name, text in {
        "__init__.py": "",
        "seeds.py": "",
        "nsbi/__init__.py": "from .toy import run\n",
        "nsbi/toy.py": "from .stage import run\nfrom mlhep import seeds\n",
        "nsbi/stage.py": "def f():\n    from ..search import stage\n",
        "stats/__init__.py": "",
        "stats/fit.py": "import importlib\nstage = importlib.import_module('mlhep.ml.stage')\nimport mlhep.search.stage\n",
        "search/__init__.py": "",
        "search/stage.py": "",
    }.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    graph = import_graph(tmp_path)
    assert graph["mlhep.nsbi"] == {"mlhep.nsbi.toy"} and graph["mlhep.nsbi.toy"] == {"mlhep.nsbi.stage", "mlhep.seeds"}
    assert graph["mlhep.nsbi.stage"] == {"mlhep.search.stage"} and graph["mlhep.stats.fit"] == {"mlhep.ml.stage", "mlhep.search.stage"}
    assert {(a, b) for a, b, _ in layer_violations(graph)} == {("mlhep.nsbi.toy", "mlhep.nsbi.stage"), ("mlhep.nsbi.stage", "mlhep.search.stage"), ("mlhep.stats.fit", "mlhep.ml.stage"), ("mlhep.stats.fit", "mlhep.search.stage")}


def test_the_layers_hold_in_the_import_graph():
    graph = import_graph()
    assert {"mlhep.generate.stage", "mlhep.process.stage", "mlhep.ml.stage", "mlhep.anomaly.stage", "mlhep.unfold.stage", "mlhep.nsbi.stage", "mlhep.search.stage"} <= set(graph)
    assert layer_violations(graph) == []
    # the check finds what it is for: edges that the old code had
    planted = {**graph, "mlhep.nsbi.stage": graph["mlhep.nsbi.stage"] | {"mlhep.search.stage"}, "mlhep.stats.fit": {"mlhep.ml.stage"}, "mlhep.columns": {"mlhep.ml.data"}}
    assert {(a, b) for a, b, _ in layer_violations(planted)} == {("mlhep.nsbi.stage", "mlhep.search.stage"), ("mlhep.stats.fit", "mlhep.ml.stage"), ("mlhep.columns", "mlhep.ml.data")}


def long_functions(path, limit=MAX_STAGE_FUNCTION_LINES):
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > limit]


def test_no_stage_function_is_longer_than_60_lines(tmp_path):
    stages = [path for path in SRC.rglob("*.py") if is_stage(module_name(path))]
    assert len(stages) >= 9
    assert {str(path.relative_to(SRC)): long_functions(path) for path in stages if long_functions(path)} == {}
    long = tmp_path / "long.py"
    long.write_text("def f():\n" + "    x = 1\n" * 60)
    assert long_functions(long) == [("f", 61)]


def test_the_tagged_search_stage_needs_no_tagger_kind_from_the_workflow():
    """A trained tagger's folder records its kind (the checkpoint convention): fit.smk passes none."""
    assert "tagger_kind" not in (ROOT / "workflow/rules/fit.smk").read_text()
    for script in ("nsbi.py", "unfold.py"):
        assert '"results/' not in (ROOT / "scripts" / script).read_text(), script


def test_ruff_is_clean_and_every_noqa_says_why():
    """ruff (the test extra) with pyproject's configuration; `make test` runs it first too."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    sources = [path for path in (*SRC.rglob("*.py"), *(ROOT / "scripts").glob("*.py"), *(ROOT / "tests").glob("*.py")) if path.name != Path(__file__).name]
    assert [line for path in sources for line in path.read_text().splitlines() if "# noqa" in line and not NOQA_WITH_REASON.search(line)] == []
    assert [text for text in ("x = 1  # noqa", "x = 1  # noqa: E501", "x = 1  # noqa: E501, F401", "x = 1  # noqa: E501 ()") if NOQA_WITH_REASON.search(text)] == []
