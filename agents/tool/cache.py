"""On-disk cache of reasoner answers, keyed by model, request and image bytes.

A repeated evaluation (same seeds, same model, same prompts) then costs no API
calls.  One JSON file per answer under ``<dir>/<key[:2]>/<key>.json``; writes
go through a temporary file and an atomic rename, so parallel workers can
share a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


class AnswerCache:
    def __init__(self, directory: str | os.PathLike | None):
        self.dir = Path(directory).expanduser() if directory else None

    @staticmethod
    def key(*parts: Any) -> str:
        h = hashlib.sha256()
        for p in parts:
            h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
            h.update(b"\0")
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        if self.dir is None:
            return None
        try:
            return json.loads(self._path(key).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def put(self, key: str, value: dict) -> None:
        if self.dir is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value))
        os.replace(tmp, path)
