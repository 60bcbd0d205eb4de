"""File output and identity: atomic writes (a temporary name, renamed on success), histograms
to ROOT, the one convention of saved models, and sha256 hashes of files and JSON-able values.

Saved models: a folder per model holds ``model.json`` (the model's kind, its hyper-parameters and
any learned state that is not network weights, such as standardization constants) beside the
weights, either a torch ``state_dict`` in ``model.pt`` or the library's native file
(xgboost's ``booster.json``)."""

import contextlib
import glob
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import uproot

from mlhep.errors import BadInputFile, MlhepError

__all__ = ["atomic_path", "defined", "scratch_folder", "file_sha256", "json_sha256", "read_model_json", "write_hists", "write_json", "write_model_json"]

MODEL_JSON = "model.json"


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it to ``path`` only if the block succeeds.

    A failure or a killed process leaves no file under the final name, so a rerun
    never mistakes a half-written file for a finished one. An OSError of the writing (no space
    left on device, a file-size or disk quota, a read-only directory) becomes an MlhepError
    naming ``path``; one about another file (an input read in the block) passes unchanged.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{glob.escape(path.name)}.tmp*"):  # left by a killed writer
            stale.unlink(missing_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        name = None if err.filename is None else os.fspath(err.filename)
        if name is not None and name != str(path.parent) and not name.startswith((str(tmp), str(path))):
            raise  # about another file: an input read in the block
        raise MlhepError(f"could not write {path}: {err.strerror or err}") from err
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_folder(path=None):
    """Yield an empty folder for the pieces of ``path`` while it is being built
    (``.{name}.parts`` beside it, an absolute path that other processes on a shared file system
    can write to; a temporary folder when ``path`` is None), removed when the block ends with
    the folders made for it that stayed empty. A folder left by a killed job is emptied first."""
    if path is None:
        with tempfile.TemporaryDirectory(prefix="mlhep-parts-") as folder:
            yield Path(folder)
        return
    path = Path(path).absolute()
    folder = path.with_name(f".{path.name}.parts")
    made = [parent for parent in path.parents if not parent.exists()]  # nearest first
    shutil.rmtree(folder, ignore_errors=True)
    try:
        try:
            folder.mkdir(parents=True)
        except OSError as err:
            raise MlhepError(f"could not write {path}: {err.strerror or err} ({folder})") from err
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for parent in made:
            with contextlib.suppress(OSError):  # not empty: the output was written there
                parent.rmdir()


@contextlib.contextmanager
def atomic_folder(path):
    """Yield an empty folder to fill; it replaces the folder ``path`` only if the block succeeds
    (a failure or a killed process leaves ``path`` as it was, or absent)."""
    path = Path(path).absolute()
    with scratch_folder(path) as scratch:
        built, old = scratch / path.name, scratch / f"{path.name}.old"
        built.mkdir()
        yield built
        try:
            if path.exists():
                os.replace(path, old)  # set aside, removed with the scratch folder
            try:
                os.replace(built, path)
            except OSError:
                if old.exists():
                    os.replace(old, path)
                raise
        except OSError as err:
            raise MlhepError(f"could not write {path}: {err.strerror or err}") from err


def write_json(obj, path):
    """Write ``obj`` as indented, strict JSON (no NaN or Infinity: write null and a reason
    instead, see ``defined``), atomically."""
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"  # raises before anything is written
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_hists(hists, path):
    """Histograms keyed (region, observable, variation) to ROOT as ``region/observable/variation``."""
    with atomic_path(path) as tmp:
        with uproot.recreate(tmp) as out:
            for (region, observable, variation), histogram in sorted(hists.items()):
                out[f"{region}/{observable}/{variation}"] = histogram


def write_model_json(folder, kind, hyper, **state):
    """``folder``/model.json of a saved model: its ``kind``, ``hyper``-parameters and ``state``."""
    write_json({"kind": kind, "hyper": hyper, **state}, Path(folder) / MODEL_JSON)


def read_model_json(folder, kind=None, weights=None):
    """The model.json of a saved model as a dict; BadInputFile naming it when it is missing,
    unreadable, (with ``kind``) of another kind, or (with ``weights``) without that weights file
    beside it."""
    path = Path(folder) / MODEL_JSON
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BadInputFile(f"{path}: not a saved model ({type(err).__name__}: {err})") from err
    if not isinstance(saved, dict) or not isinstance(saved.get("kind"), str) or not isinstance(saved.get("hyper"), dict):
        raise BadInputFile(f"{path}: not a saved model of this mlhep (no 'kind' and 'hyper'; saved by an older version? retrain it)")
    if kind is not None and saved["kind"] != kind:
        raise BadInputFile(f"{path}: a saved {saved['kind']!r} model, expected {kind!r}")
    if weights is not None and not (Path(folder) / weights).is_file():
        raise BadInputFile(f"{Path(folder) / weights}: missing, the weights of the saved {saved['kind']!r} model")
    return saved


def defined(values, reasons):
    """``values`` (a dict) with every NaN or infinite number replaced by None (JSON null) and a
    key ``{name}_reason`` beside it, from ``reasons`` {name: why the number is undefined}."""
    out = dict(values)
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            out[name] = None
            out[f"{name}_reason"] = reasons[name]
    return out


def file_sha256(path):
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_sha256(value):
    """sha256 of ``value`` as canonical JSON (sorted keys): equal values, equal hashes."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def log_to(path):
    """Send this process's standard error (warnings, tracebacks) and the mlhep loggers (INFO:
    what each stage read, the settings in effect, event counts, times) to the job's log file
    ``path``, line by line; other libraries log their warnings only."""
    stream = open(path, "w", buffering=1)
    sys.stderr = stream
    logging.basicConfig(stream=stream, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("mlhep").setLevel(logging.INFO)
    logging.captureWarnings(True)
    return stream
