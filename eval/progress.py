"""Run progress: a tqdm bar on a terminal, plain log lines anywhere else (CI, Slurm, ``> log``)."""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm

log = logging.getLogger("eval.progress")


class Progress:
    """``update(success_rate)`` after each finished episode; ``close()`` at the end.

    Without a terminal on stderr a bar's carriage-return redraws pile up in one
    line, so each update logs at most one line per ``every_s`` seconds (the
    first and the last always): done/total, success so far, episodes/minute.
    """

    def __init__(self, total: int, initial: int, desc: str, every_s: float = 5.0, tty: bool | None = None):
        self.total, self.done, self.desc, self.every_s = total, initial, desc, every_s
        self._initial, self._logged = initial, initial
        self._start, self._last = time.monotonic(), float("-inf")
        self._rate = 0.0
        tty = sys.stderr.isatty() if tty is None else tty
        self._bar = tqdm(total=total, initial=initial, desc=desc, unit="ep", dynamic_ncols=True) if tty else None

    def update(self, success_rate: float) -> None:
        self.done += 1
        self._rate = success_rate
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(success=f"{success_rate:.0%}")
        elif self.done == self.total or time.monotonic() - self._last >= self.every_s:
            self._log()

    def _log(self) -> None:
        now = self._last = time.monotonic()
        self._logged = self.done
        per_min = (self.done - self._initial) / max(now - self._start, 1e-9) * 60
        log.info("%s: %d/%d episodes, success %.0f%%, %.1f episodes/min", self.desc, self.done, self.total,
                 100 * self._rate, per_min)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._logged != self.done:  # stopped early: say where it stood
            self._log()
