"""The HTML report: metrics tables of every stage, and a check that a report renders in Chromium.

Check a report by hand with ``python -m mlhep.report results/report.html`` (needs Debian's
``chromium`` and the ``playwright`` package of the ``test`` extra).
"""

import html
import json
import re
import sys
from pathlib import Path

import pandas as pd

from mlhep.errors import BadInputFile, MlhepError
from mlhep.io import atomic_path

__all__ = ["CHROMIUM", "check_report", "metrics_frame", "write_metrics_table"]

CHROMIUM = "/usr/bin/chromium"
# flags for a sandboxed machine without network (each stops a class of failing connections)
_CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _cell(value):
    """A table cell: floats to 4 significant digits, lists and records (dicts) as text."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(str(_cell(item)) for item in value)
    if isinstance(value, dict):
        return "(" + "; ".join(f"{key} {_cell(item)}" for key, item in value.items()) + ")"
    return value


def _flat(record, prefix=""):
    """A nested dict as one level with keys joined by dots."""
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = _cell(value)
    return flat


def metrics_frame(metrics):
    """A table of a stage's metrics: one row per entry of a dict of records or a list of records
    (nested keys joined by dots), else one row per key of a flat dict."""
    if isinstance(metrics, list):
        return pd.DataFrame([_flat(record) for record in metrics])
    if metrics and all(isinstance(value, dict) for value in metrics.values()):
        return pd.DataFrame.from_dict({name: _flat(record) for name, record in metrics.items()}, orient="index")
    return pd.DataFrame({"value": pd.Series(_flat(metrics))})


def write_metrics_table(source, path):
    """Write the metrics of ``source`` (a stage's JSON, or a CSV table) as an HTML page at ``path``."""
    source = Path(source)
    try:
        frame = pd.read_csv(source) if source.suffix == ".csv" else metrics_frame(json.loads(source.read_text()))
    except (OSError, ValueError) as error:
        raise BadInputFile(f"{source}: cannot read the metrics: {error}") from error
    table = frame.to_html(index=source.suffix != ".csv", border=0, na_rep="")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(source.name)}</title>"
        "<style>body{font-family:sans-serif} table{border-collapse:collapse;font-size:13px}"
        "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}</style></head>"
        f"<body><h3>{html.escape(str(source))}</h3>{table}</body></html>\n"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page)


def _report_entries(text):
    """{category: [result paths]} from the data that snakemake embeds in its report."""
    match = re.search(r"var categories = (\{.*?\});?\s*</script>", text, re.S)
    if match is None:
        raise BadInputFile("no 'categories' data in the report: not a snakemake report?")
    categories = json.loads(match.group(1))
    return {category: [path for paths in subcategories.values() for path in paths] for category, subcategories in categories.items()}


def check_report(path, chromium=CHROMIUM):
    """Open a snakemake report in headless Chromium, show every result of every category and
    check that each figure is drawn (a decoded image) and each table page loads.

    Returns:
        {"figures": [paths drawn], "tables": [paths shown]}; raises MlhepError naming the
        results that did not render.
    """
    from playwright.sync_api import sync_playwright

    path = Path(path).resolve()
    if not path.is_file():
        raise BadInputFile(f"{path}: no report")
    entries = _report_entries(path.read_text())
    shown, failed = {"figures": [], "tables": []}, []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=_CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(path.as_uri())
        for category, results in entries.items():
            for result in results:
                page.get_by_text("Results", exact=True).first.click()
                page.get_by_text(category, exact=True).first.click()
                page.locator("tr", has_text=result).first.locator("a[iconname=eye]").click()
                name = Path(result).name
                if name.endswith(".png"):
                    image = page.locator(f"img[src*='filename={name};']").first
                    drawn = image.count() and image.evaluate("img => img.complete && img.naturalWidth > 0")
                    shown["figures"].append(result) if drawn else failed.append(result)
                elif name.endswith(".html"):
                    frame = page.locator("iframe").first
                    loaded = frame.count() and frame.content_frame.locator("table").count() > 0
                    shown["tables"].append(result) if loaded else failed.append(result)
        browser.close()
    if failed:
        raise MlhepError(f"{path}: {len(failed)} results did not render in Chromium: {failed}")
    return shown


if __name__ == "__main__":
    rendered = check_report(sys.argv[1] if len(sys.argv) > 1 else "results/report.html")
    print(f"{len(rendered['figures'])} figures and {len(rendered['tables'])} tables rendered")
