"""On-disk cache of reasoner answers, keyed by endpoint, model, request and image bytes.

A repeated evaluation (same endpoint, model, seeds and prompts) then costs no
API calls.  One JSON file per answer under ``<dir>/<key[:2]>/<key>.json``,
holding ``{"key": key, "value": answer}``; writes go through a temporary file
and an atomic rename, so parallel workers can share a cache.  An entry that
cannot be read back whole (empty, truncated, binary, another key's, not an
answer) is a miss, never an answer, and the fresh answer replaces it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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
        assert self.dir is not None
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The answer stored under ``key``; None when there is none or the entry is damaged."""
        if self.dir is None:
            return None
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            log.warning("cache entry %s is unreadable (%s): asking again", path, e)
            return None
        if not (isinstance(entry, dict) and entry.get("key") == key and isinstance(entry.get("value"), dict)):
            log.warning("cache entry %s does not hold an answer for its key: asking again", path)
            return None
        return entry["value"]

    def put(self, key: str, value: dict) -> None:
        if self.dir is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "value": value}))
        os.replace(tmp, path)
