"""The frame codec between grader and child: length-prefixed JSON, plain data only.

A frame is a 4-byte big-endian length followed by that many bytes of ASCII
JSON. The envelope (``{"op": ...}`` requests, ``{"id": ...}`` replies) is plain
JSON; values inside it use the tagged encoding below, so that every Python type
that may cross the boundary has exactly one spelling and nothing else decodes:

    None, bool, int, finite float, str   as JSON itself
    list                                 JSON array
    tuple                                {"t": [...]}
    dict (str keys)                      {"d": {...}}
    nan / inf / -inf                     {"f": "nan" | "inf" | "-inf"}
    complex                              {"c": [real, imag]}      (floats encoded as above)
    numpy array (bool/int/uint/float/complex)  {"a": [dtype.str, shape, base64 of C-order bytes]}
    Symbol marker                        {"s": name}
    SymPy expression                     {"x": tree}              (see exprtree.py)

The child (child/framing.py, child/codec.py) repeats the few lines it needs (it runs in isolation and cannot import
this package); tests/grader/sandbox/test_wire.py checks that both sides agree.
"""
from __future__ import annotations

import base64
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .exprtree import ExprTree, ExprTreeError

HEADER = struct.Struct(">I")
MAX_NESTING = 64

# Native byte order only: the child converts before sending, so anything else
# is a forged frame. Object, string, datetime and structured dtypes never cross.
ARRAY_DTYPES = frozenset(np.dtype(t).str for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
    np.uint32, np.uint64, np.float16, np.float32, np.float64, np.complex64,
    np.complex128))


@dataclass(frozen=True)
class Symbol:
    """An argument marker: the child replaces it with ``sympy.Symbol(name, real=True)``."""

    name: str


class WireError(ValueError):
    """A value that cannot be encoded, or a frame that does not decode.
    ``culprit`` is the offending object (or a short excerpt of it)."""

    def __init__(self, message: str, culprit: Any = None):
        super().__init__(message)
        self.message = message
        self.culprit = culprit


def _reject_constant(name: str) -> Any:
    raise WireError(f"bare {name} in a frame", name)


def dump_frame(payload: dict) -> bytes:
    """Serialise an envelope (already containing encoded values) as a frame."""
    body = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("ascii")
    return HEADER.pack(len(body)) + body


def load_body(body: bytes) -> dict:
    """Parse a frame body. Anything but a JSON object is a WireError."""
    try:
        payload = json.loads(body.decode("ascii"), parse_constant=_reject_constant)
    except WireError:
        raise
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise WireError(f"frame is not valid JSON ({exc})", body[:80]) from None
    if type(payload) is not dict:
        raise WireError("frame is not a JSON object", body[:80])
    return payload


def _float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"f": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def encode(value: Any, _depth: int = 0) -> Any:
    """Encode plain data as JSON-able tagged data, or raise WireError."""
    if _depth > MAX_NESTING:
        raise WireError(f"value is nested more than {MAX_NESTING} levels deep")
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return value
    if t is float:
        return _float(value)
    if t is complex:
        return {"c": [_float(value.real), _float(value.imag)]}
    if t is list:
        return [encode(v, _depth + 1) for v in value]
    if t is tuple:
        return {"t": [encode(v, _depth + 1) for v in value]}
    if t is dict:
        bad = [k for k in value if type(k) is not str]
        if bad:
            raise WireError(f"dict keys must be str, not {type(bad[0]).__name__}", bad[0])
        return {"d": {k: encode(v, _depth + 1) for k, v in value.items()}}
    if t is Symbol:
        if type(value.name) is not str or not value.name:
            raise WireError("Symbol name must be a non-empty str", value)
        return {"s": value.name}
    if t is ExprTree:
        return {"x": value.tree}
    if isinstance(value, np.ndarray):
        arr = value
        if arr.dtype.str not in ARRAY_DTYPES:
            arr = arr.astype(arr.dtype.newbyteorder("="))
            if arr.dtype.str not in ARRAY_DTYPES:
                raise WireError(f"arrays of dtype {value.dtype} cannot be sent", value.dtype)
        return {"a": [arr.dtype.str, list(arr.shape),
                      base64.b64encode(arr.tobytes()).decode("ascii")]}
    if isinstance(value, np.generic) and value.dtype.str in ARRAY_DTYPES:
        return encode(value.item(), _depth)
    for base in (int, float, complex, str):  # the grader's own subclasses, e.g. IntEnum
        if isinstance(value, base):
            return encode(base(value), _depth)
    raise WireError(f"values of type {t.__name__} cannot be sent", value)


def _decode_float(v: Any) -> float:
    if type(v) is float or type(v) is int:
        return float(v)
    if type(v) is dict and set(v) == {"f"} and v["f"] in ("nan", "inf", "-inf"):
        return float(v["f"])
    raise WireError("malformed float", v)


def _decode_array(spec: Any) -> np.ndarray:
    if type(spec) is not list or len(spec) != 3:
        raise WireError("malformed array", spec)
    dtype, shape, data = spec
    if dtype not in ARRAY_DTYPES:
        raise WireError(f"array dtype {dtype!r} is not allowed", dtype)
    if (type(shape) is not list or len(shape) > 32
            or any(type(n) is not int or n < 0 for n in shape)):
        raise WireError("malformed array shape", shape)
    if type(data) is not str:
        raise WireError("malformed array data", type(data).__name__)
    dt = np.dtype(dtype)
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raise WireError("array data is not base64", data[:40]) from None
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise WireError(f"array data has {len(raw)} bytes, shape {shape} needs "
                        f"{math.prod(shape) * dt.itemsize}", shape)
    return np.frombuffer(raw, dtype=dt).reshape(shape).copy()


def decode(obj: Any, _depth: int = 0) -> Any:
    """Inverse of :func:`encode`; any other shape is a WireError."""
    if _depth > MAX_NESTING + 1:
        raise WireError(f"value is nested more than {MAX_NESTING} levels deep")
    t = type(obj)
    if obj is None or t is bool or t is int or t is str or t is float:
        return obj
    if t is list:
        return [decode(v, _depth + 1) for v in obj]
    if t is not dict or len(obj) != 1:
        raise WireError("malformed value", _excerpt(obj))
    (tag, body), = obj.items()
    if tag == "f":
        return _decode_float(obj)
    if tag == "t" and type(body) is list:
        return tuple(decode(v, _depth + 1) for v in body)
    if tag == "d" and type(body) is dict:
        return {k: decode(v, _depth + 1) for k, v in body.items()}
    if tag == "c" and type(body) is list and len(body) == 2:
        return complex(_decode_float(body[0]), _decode_float(body[1]))
    if tag == "a":
        return _decode_array(body)
    if tag == "s" and type(body) is str and body:
        return Symbol(body)
    if tag == "x":
        try:
            return ExprTree.from_wire(body)
        except ExprTreeError as exc:
            raise WireError(f"malformed expression tree: {exc.message}", exc.culprit) from None
    raise WireError(f"unknown or malformed tag {tag!r}", _excerpt(obj))


def _excerpt(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."
