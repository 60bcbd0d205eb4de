"""Columnar processing with coffea: selections, features, histograms with systematics."""

from mlhep.process.dijet import DijetProcessor
from mlhep.process.inputs import Schema, SkippedFileWarning, check_files
from mlhep.process.run import configured_executor, dask_client, make_executor, make_processor, run_processor
from mlhep.process.summary import cutflow_table
from mlhep.process.zjets import ZJetsProcessor

__all__ = [
    "DijetProcessor",
    "Schema",
    "SkippedFileWarning",
    "ZJetsProcessor",
    "check_files",
    "configured_executor",
    "cutflow_table",
    "dask_client",
    "make_executor",
    "make_processor",
    "run_processor",
]
