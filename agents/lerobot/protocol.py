"""Wire format between the policy client (the agent) and ``python -m agents.lerobot.serve``.

JSON over HTTP, three endpoints:

    GET  /health   -> {"protocol": 1, "status": "ok", "policy": {...checkpoint facts...},
                       "max_body_bytes": ...}
    POST /reset    <- {"protocol": 1, "seed": <episode seed or null>}   (per episode)
    POST /predict  <- {"protocol": 1, "observation": {<key>: <value>}}
                   -> {"protocol": 1, "actions": [[...], ...], "latency_s": ...}

Observation values are sent compactly: images (uint8 HxWx3) as PNG bytes in
base64 (lossless, so server-side inputs equal in-process ones), arrays as
lists with one of :data:`DTYPES`, strings as strings.  A client refuses a
server whose ``protocol`` differs from its own.  With an API key set (the
environment variable :data:`API_KEY_ENV`, on both sides), every request carries
``Authorization: Api-Key <key>``.

The server decodes what a client sent within :class:`Limits` (PNG only, its
size read from the header before decoding; arrays of an allowed dtype and a
bounded element count) and answers :class:`RequestError`'s status otherwise.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

PROTOCOL_VERSION = 1
API_KEY_ENV = "VLA_BENCH_POLICY_API_KEY"
DTYPES = frozenset({"bool", "uint8", "int16", "int32", "int64", "float16", "float32", "float64"})
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Limits:
    """What the server accepts in one request."""

    max_body_bytes: int = 16 * 2**20
    max_image_side: int = 2048  # pixels, width or height, read from the PNG header
    max_array_elements: int = 65536


DEFAULT_LIMITS = Limits()


class RequestError(Exception):
    """A request that can never succeed as sent: the server answers ``status`` (4xx), never 500."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def encode_observation(obs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obs.items():
        if isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 3:
            buf = io.BytesIO()
            Image.fromarray(value).save(buf, format="PNG")
            out[key] = {"png": base64.b64encode(buf.getvalue()).decode()}
        elif isinstance(value, np.ndarray):
            if str(value.dtype) not in DTYPES:
                raise ValueError(f"{key}: dtype {value.dtype} cannot be sent; allowed: {sorted(DTYPES)}")
            out[key] = {"array": value.tolist(), "dtype": str(value.dtype)}
        else:
            out[key] = value
    return out


def decode_observation(data: Any, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The inverse of :func:`encode_observation`, refusing (:class:`RequestError`) what breaks ``limits``."""
    if not isinstance(data, dict):
        raise RequestError(400, f"observation must be a JSON object, got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and "png" in value:
            out[key] = decode_png(key, value["png"], limits)
        elif isinstance(value, dict) and "array" in value:
            out[key] = decode_array(key, value["array"], value.get("dtype", "float32"), limits)
        elif isinstance(value, (dict, list)):
            raise RequestError(400, f"{key}: expected {{'png': ...}}, {{'array': ..., 'dtype': ...}} or a scalar")
        else:
            out[key] = value
    return out


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, without decoding anything."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        raise RequestError(400, "images must be PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def decode_png(key: str, text: Any, limits: Limits) -> np.ndarray:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError) as e:
        raise RequestError(400, f"{key}: the image is not base64: {e}") from e
    width, height = png_size(data)
    if not (0 < width <= limits.max_image_side and 0 < height <= limits.max_image_side):
        raise RequestError(413, f"{key}: image {width}x{height} exceeds the server's limit of "
                                f"{limits.max_image_side} pixels a side")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as e:  # what Pillow raises for a broken file
        raise RequestError(400, f"{key}: the PNG does not decode: {e}") from e


def nested_shape(value: Any) -> tuple[int, ...]:
    """The shape a nested list would have, read from its first elements (no copy)."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(shape)


def decode_array(key: str, value: Any, dtype: Any, limits: Limits) -> np.ndarray:
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise RequestError(400, f"{key}: dtype {str(dtype)[:40]!r} is not one of {sorted(DTYPES)}")
    n = math.prod(nested_shape(value))
    if n > limits.max_array_elements:
        raise RequestError(413, f"{key}: {n} elements exceed the server's limit of {limits.max_array_elements}")
    try:
        return np.asarray(value, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as e:
        raise RequestError(400, f"{key}: not a regular {dtype} array: {e}") from e
