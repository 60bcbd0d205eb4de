"""File output and identity: atomic writes (a temporary name, renamed on success) and sha256
hashes of files and of JSON-able values."""

import contextlib
import glob
import hashlib
import json
import os
from pathlib import Path

__all__ = ["atomic_path", "file_sha256", "json_sha256", "write_json"]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it to ``path`` only if the block succeeds.

    A failure or a killed process leaves no file under the final name, so a rerun
    never mistakes a half-written file for a finished one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.tmp*"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(obj, path):
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


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
