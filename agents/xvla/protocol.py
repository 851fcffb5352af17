"""Wire format between the policy client (the agent) and ``python -m agents.xvla.serve``.

JSON over HTTP, three endpoints:

    GET  /health   -> {"protocol": 1, "status": "ok", "policy": {...checkpoint facts...}}
    POST /reset    <- {"protocol": 1, "seed": <episode seed or null>}   (per episode)
    POST /predict  <- {"protocol": 1, "observation": {<key>: <value>}}
                   -> {"protocol": 1, "actions": [[...], ...], "latency_s": ...}

Observation values are sent compactly: images (uint8 HxWx3) as PNG bytes in
base64 (lossless, so server-side inputs equal in-process ones), arrays as
lists, strings as strings.  A client refuses a server whose ``protocol``
differs from its own.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

PROTOCOL_VERSION = 1


def encode_observation(obs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in obs.items():
        if isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 3:
            buf = io.BytesIO()
            Image.fromarray(value).save(buf, format="PNG")
            out[key] = {"png": base64.b64encode(buf.getvalue()).decode()}
        elif isinstance(value, np.ndarray):
            out[key] = {"array": value.tolist(), "dtype": str(value.dtype)}
        else:
            out[key] = value
    return out


def decode_observation(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and "png" in value:
            out[key] = np.asarray(Image.open(io.BytesIO(base64.b64decode(value["png"]))).convert("RGB"))
        elif isinstance(value, dict) and "array" in value:
            out[key] = np.asarray(value["array"], dtype=value.get("dtype", "float32"))
        else:
            out[key] = value
    return out
