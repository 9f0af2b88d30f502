"""Derived cases on disk, so a new process loads in milliseconds what took seconds to compute.

Cases are exact (mpmath) and deterministic in their key, so a stored copy is
as good as a recomputed one, as long as the key changes whenever anything that
produced them changes: the key hashes the package version, the assignment's
files, and the source of the grader's and the reference's case-building code.
Entries are JSON (floats by repr, which reads back bit for bit), never pickle.
A missing, stale or unreadable entry is recomputed; a write that fails is
ignored: the cache only ever saves time.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable


PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# What builds a case: change any of it and every key changes.
SOURCES = ("grader/problems.py", "grader/regimes.py", "grader/tasks", "reference")
FORMAT = 1


def directory() -> Path | None:
    """Where entries live: $LSTM_GRADER_CACHE ("off" disables), else ~/.cache/lstm-autograder."""
    setting = os.environ.get("LSTM_GRADER_CACHE", "")
    if setting.lower() in ("off", "0", "none"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "lstm-autograder"


@lru_cache(maxsize=None)
def code_digest() -> str:
    from importlib import metadata

    try:
        version = metadata.version("lstm-autograder")
    except metadata.PackageNotFoundError:
        version = "source"
    h = hashlib.sha256(f"{FORMAT}/{version}".encode())
    for rel in SOURCES:
        root = PACKAGE_ROOT / rel
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for path in files:
            h.update(str(path.relative_to(PACKAGE_ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=None)
def assignment_digest(root: Path) -> str:
    h = hashlib.sha256()
    root = Path(root)
    # the declaration, the preamble, and any cell declared in an equation file
    for path in [root / "assignment.toml", root / "helpers.py", *sorted(root.glob("*.cell"))]:
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def cached(key_parts: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, or its stored result under the key made of ``key_parts``."""
    where = directory()
    if where is None:
        return compute()
    key = hashlib.sha256(json.dumps([code_digest(), *map(str, key_parts)]).encode()).hexdigest()
    path = where / key[:2] / f"{key}.json"
    try:
        return decode(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(encode(value), out)
        os.replace(tmp, path)   # atomic: a concurrent reader sees the old entry or the new one
    except OSError:
        pass
    return value


def encode(value: Any) -> Any:
    """Plain JSON whose only objects are tags."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    import numpy as np  # late: `lstm-grader list` reads the cache without NumPy

    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        flat = [encode(float(v)) if value.dtype.kind == "f" else v.item() for v in value.reshape(-1)]
        return {"array": flat, "dtype": value.dtype.str, "shape": list(value.shape)}
    if hasattr(value, "__dataclass_fields__"):
        return {"record": type(value).__name__,
                "fields": {k: encode(getattr(value, k)) for k in value.__dataclass_fields__}}
    raise TypeError(f"cannot store a {type(value).__name__}")


RECORDS: dict[str, type] = {}


def decode(obj: Any) -> Any:
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "float" in obj:
        return float(obj["float"])
    if "tuple" in obj:
        return tuple(decode(v) for v in obj["tuple"])
    if "dict" in obj:
        return {decode(k): decode(v) for k, v in obj["dict"]}
    if "array" in obj:
        import numpy as np

        return np.array([decode(v) for v in obj["array"]], dtype=np.dtype(obj["dtype"])).reshape(obj["shape"])
    if "record" in obj:
        return RECORDS[obj["record"]](**{k: decode(v) for k, v in obj["fields"].items()})
    raise ValueError("unknown tag")
