"""Files a run folder relies on: atomic replacement of a file, and the folder's lock."""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from pathlib import Path
from typing import ClassVar

from envs.errors import BenchError, ConfigError


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` by ``text`` all at once: a crash or a full disk leaves the old file whole.

    Writes a temporary file in the same folder, flushes it to disk, renames it over ``path`` and
    flushes the folder, so after a power cut the file is either the old one or the new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            data = memoryview(text.encode())
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise BenchError(f"could not write {path}: {e.strerror or e}; the previous version is kept. "
                         "Free some disk space (or fix the folder's permissions) and run again") from e
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems cannot sync a folder; the rename itself is still atomic
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


class FolderLock:
    """Exclusive use of a run folder, across processes: two runs appending to one log would corrupt it.

    Re-entrant within a process: the harness may take it before writing anything in the folder and the
    runner take it again inside; the ``flock`` is released when the outermost holder releases it."""

    _held: ClassVar[dict[Path, list]] = {}  # real path -> [file descriptor, depth]
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir)

    def acquire(self) -> None:
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            key = self.out_dir.resolve()
            with self._guard:
                if key in self._held:
                    self._held[key][1] += 1
                    return
                fd = os.open(key / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    raise BenchError(f"another run is writing to {self.out_dir}; wait for it or choose another "
                                     "out_dir") from None
                self._held[key] = [fd, 1]
        except OSError as e:  # a file in the way, a read-only folder, a path under a file
            raise ConfigError(f"out_dir {self.out_dir} cannot be used as a run folder ({e.strerror or e}: "
                              f"{e.filename or self.out_dir}); choose a writable folder for out_dir") from e

    def release(self) -> None:
        key = self.out_dir.resolve()
        with self._guard:
            entry = self._held[key]
            entry[1] -= 1
            if entry[1] == 0:
                del self._held[key]
                fcntl.flock(entry[0], fcntl.LOCK_UN)
                os.close(entry[0])

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
