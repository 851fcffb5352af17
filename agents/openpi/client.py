"""A client of any openpi policy server (openpi's ``serve_policy.py``, or ``python -m agents.openpi.testing``).

:class:`OpenPIClient` connects, reads the server's metadata, then sends one observation dict per query and
reads back the reply dict (``actions`` and ``server_timing``).  Every failure says what to do: no server
(start one, or fix ``agent.server``), a refused key (``VLA_BENCH_POLICY_API_KEY``), metadata that is not a
dict (not an openpi server) stop the run before any episode; a server error (its text frame), a reply
without ``actions`` or a timeout fail that one episode; a dropped connection is reopened (``retries``).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np

from agents.errors import AgentError, FatalAgentError
from agents.openpi.wire import API_KEY_ENV, WireError, as_str_keys, packb, unpackb

log = logging.getLogger(__name__)
# close codes that refuse this very message: resending it would be refused again
NEVER_RETRY = {1008: "policy violation", 1009: "larger than the server's message size limit"}
START_HINT = ("python -m agents.lerobot.serve --checkpoint <folder or hub id> --port 8000 (a LeRobot policy), "
              "python -m agents.openpi.testing --port 8000 (a test policy), or openpi's scripts/serve_policy.py")


class OpenPIClient:
    def __init__(self, url: str, timeout_s: float = 60.0, retries: int = 3, backoff_s: float = 0.5):
        if not url.startswith(("ws://", "wss://")):
            url = f"ws://{url}"
        self.url, self.timeout_s, self.retries, self.backoff_s = url.rstrip("/"), timeout_s, retries, backoff_s
        key = os.environ.get(API_KEY_ENV)
        self._headers = {"Authorization": f"Api-Key {key}"} if key else None
        self._ws: Any = None
        self.metadata = self._connect(first=True)
        log.info("openpi server %s metadata: %s", self.url, self.metadata)

    def _connect(self, first: bool = False) -> dict:
        from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        try:
            # entered as a context manager (websockets >= 16 warns otherwise); closed with close()
            self._ws = connect(self.url, compression=None, max_size=None, additional_headers=self._headers,
                               open_timeout=self.timeout_s).__enter__()
            raw = self._ws.recv(timeout=self.timeout_s)
        except InvalidStatus as e:
            status = e.response.status_code
            if status in (401, 403):
                raise FatalAgentError(f"the openpi server at {self.url} refused the connection ({status}): set "
                                      f"{API_KEY_ENV} to the server's key") from e
            raise FatalAgentError(f"{self.url} answered {status}, not a WebSocket: is it an openpi server?") from e
        except ConnectionClosed as e:
            if e.rcvd is not None and e.rcvd.code == 1013:
                raise FatalAgentError(f"the openpi server at {self.url} is serving as many clients as it takes: "
                                      "run fewer workers, or raise the server's --max-connections") from e
            raise FatalAgentError(f"the openpi server at {self.url} closed the connection before its metadata: "
                                  f"{e}") from e
        except (OSError, TimeoutError, WebSocketException) as e:
            if not first:
                raise AgentError(f"lost the openpi server at {self.url}: {e}") from e
            raise FatalAgentError(f"no openpi server answers at agent.server={self.url} ({e}); start one: "
                                  f"{START_HINT}") from e
        try:
            metadata = as_str_keys(unpackb(raw)) if isinstance(raw, bytes) else None
        except WireError:
            metadata = None
        if not isinstance(metadata, dict):
            self.close()
            raise FatalAgentError(f"{self.url} did not open with openpi's metadata message (a msgpack dict); "
                                  "is it an openpi policy server?")
        return metadata

    def infer(self, obs: dict) -> dict:
        """One observation dict -> the server's reply dict (``actions`` as an array)."""
        out = self.infer_raw(obs)
        if not isinstance(out.get("actions"), np.ndarray):
            raise AgentError(f"the openpi server's reply has no 'actions' array (keys: {sorted(out)})")
        return out

    def infer_raw(self, obs: dict) -> dict:
        """One message out, the reply dict back (whatever its keys)."""
        from websockets.exceptions import ConnectionClosed

        data = packb(obs)
        for attempt in range(1, self.retries + 1):
            try:
                if self._ws is None:
                    self._connect()
                self._ws.send(data)
                reply = self._ws.recv(timeout=self.timeout_s)
                break
            except TimeoutError as e:
                self.close()  # a late reply must not answer the next query
                raise AgentError(f"the openpi server at {self.url} did not answer within {self.timeout_s} s") from e
            except (ConnectionClosed, OSError) as e:
                self.close()
                code = getattr(getattr(e, "rcvd", None), "code", None)
                if code in NEVER_RETRY:  # the same message would be refused again: a 4xx, not a 5xx
                    raise AgentError(f"the openpi server at {self.url} refused the observation ({code}: "
                                     f"{NEVER_RETRY[code]}); {e}") from e
                if attempt == self.retries:
                    raise AgentError(f"the openpi server at {self.url} dropped the connection {attempt} times: "
                                     f"{e}") from e
                log.warning("openpi server %s: connection lost (%s), reconnecting", self.url, e)
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        if isinstance(reply, str):
            raise AgentError(f"the openpi server at {self.url} failed on this observation:\n{reply[-2000:]}")
        try:
            out = as_str_keys(unpackb(reply))
        except WireError as e:
            raise AgentError(f"the openpi server's reply does not decode: {e}") from e
        if not isinstance(out, dict):
            raise AgentError(f"the openpi server's reply is a {type(out).__name__}, not a map")
        return out

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:  # closing a broken connection: nothing left to save
                pass
            self._ws = None
