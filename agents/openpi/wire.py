"""openpi's wire format: msgpack messages over a WebSocket, numpy arrays as typed byte buffers.

What travels (the format of openpi's ``serve_policy.py`` and its ``openpi-client`` package, spoken here with
``msgpack`` and ``websockets`` directly, because ``openpi-client`` pins numpy < 2):

- on connect, the server sends one binary message: its metadata dict;
- then each client message is one observation dict, and each reply one dict with ``actions`` (the chunk,
  ``(steps, dims)``) and usually ``server_timing``;
- a server-side error comes back as a *text* frame holding the message (the client raises it);
- arrays are maps ``{b"__ndarray__": True, b"data": <bytes>, b"dtype": <dtype.str>, b"shape": [...]}``,
  numpy scalars ``{b"__npgeneric__": True, b"data": <item>, b"dtype": <dtype.str>}``;
- an optional ``Authorization: Api-Key <key>`` header on the connect request; servers answer
  ``GET /healthz`` with 200.

Only numeric and boolean dtypes travel (object, void, complex and string arrays are refused both ways);
nothing is ever unpickled.  :func:`unpackb` takes :class:`Limits` so a server can cap what it decodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

ALLOWED_KINDS = frozenset("biuf")  # bool, signed and unsigned integers, floats
API_KEY_ENV = "VLA_BENCH_POLICY_API_KEY"


class WireError(ValueError):
    """A message that does not follow the format (or breaks the receiver's limits)."""


@dataclass(frozen=True)
class Limits:
    """What a receiver decodes from one message."""

    max_message_bytes: int = 32 * 2**20
    max_array_elements: int = 4 * 2**20  # a 1024x1024x3 image and then some


UNLIMITED = Limits(max_message_bytes=2**62, max_array_elements=2**62)


def _pack(obj: Any) -> Any:
    if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.kind not in ALLOWED_KINDS:
        raise WireError(f"dtype {obj.dtype} cannot travel; only bool, integer and float arrays do")
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": np.ascontiguousarray(obj).tobytes(), b"dtype": obj.dtype.str,
                b"shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def packb(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_pack, use_bin_type=True)


def _dtype(value: Any) -> np.dtype:
    try:
        dtype = np.dtype(value.decode() if isinstance(value, bytes) else value)
    except (TypeError, ValueError) as e:
        raise WireError(f"unknown dtype {value!r}") from e
    if dtype.kind not in ALLOWED_KINDS:
        raise WireError(f"dtype {dtype} is refused; only bool, integer and float arrays travel")
    return dtype


def _hook(limits: Limits):
    def unpack(obj: dict) -> Any:
        if obj.get(b"__ndarray__") is True or obj.get("__ndarray__") is True:
            get = (lambda k: obj.get(k.encode(), obj.get(k)))  # noqa: E731  bytes keys (upstream) or str keys
            dtype, shape, data = _dtype(get("dtype")), get("shape"), get("data")
            if not isinstance(data, bytes) or not isinstance(shape, (list, tuple)) or not all(
                    isinstance(s, int) and s >= 0 for s in shape):
                raise WireError("an array needs bytes data and a shape of non-negative integers")
            n = math.prod(shape)
            if n > limits.max_array_elements:
                raise WireError(f"an array of {n} elements exceeds the limit of {limits.max_array_elements}")
            if len(data) != n * dtype.itemsize:
                raise WireError(f"array data of {len(data)} bytes does not fit shape {list(shape)} of {dtype}")
            return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        if obj.get(b"__npgeneric__") is True or obj.get("__npgeneric__") is True:
            get = (lambda k: obj.get(k.encode(), obj.get(k)))  # noqa: E731
            return _dtype(get("dtype")).type(get("data"))
        return obj
    return unpack


def unpackb(data: bytes, limits: Limits = UNLIMITED) -> Any:
    if len(data) > limits.max_message_bytes:
        raise WireError(f"a message of {len(data)} bytes exceeds the limit of {limits.max_message_bytes}")
    try:
        return msgpack.unpackb(data, object_hook=_hook(limits), raw=False, strict_map_key=False)
    except WireError:
        raise
    except (msgpack.exceptions.ExtraData, msgpack.exceptions.FormatError, msgpack.exceptions.StackError,
            ValueError, TypeError) as e:
        raise WireError(f"not a msgpack message of this format: {e}") from e


def as_str_keys(d: Any) -> Any:
    """Maps with bytes keys (as some msgpack peers send them) read with str keys, recursively."""
    if isinstance(d, dict):
        return {(k.decode() if isinstance(k, bytes) else k): as_str_keys(v) for k, v in d.items()}
    return d
