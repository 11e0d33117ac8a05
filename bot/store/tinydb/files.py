"""The data directory on disk: atomic file replacement, the process lock, owner.json.

A file is never rewritten in place: `write_files` writes each new version to a
temp file in the same directory, fsyncs it, renames it over the old one and
fsyncs the directory, so a file on disk is always a whole old version or a
whole new one (rename durability needs the directory entry on disk: see
fsync(2), "Calling fsync() does not necessarily ensure that the entry in the
directory ... has also reached disk"). Every temp file of a call is written
before the first rename, so a full disk fails before anything is replaced;
the temp files of a failed call are removed, the half-written one included.

One process at a time writes a data directory: it holds `LOCK` (filelock) and
names itself in `owner.json`, so that another process can say who holds it.
Readers take no lock (see `bot/store/tinydb/store.py` for why a snapshot read
without it is consistent).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import orjson
from filelock import FileLock, Timeout

from bot.store.ports import StoreError, StoreLockedError

__all__ = [
    "LOCK_FILE",
    "OWNER_FILE",
    "TMP_SUFFIX",
    "DirectoryLock",
    "Writable",
    "describe_holder",
    "ensure_directory",
    "fsync_directory",
    "is_held",
    "remove_stale_temp_files",
    "unlink_files",
    "write_files",
    "write_fsynced",
]

LOCK_FILE = "LOCK"
OWNER_FILE = "owner.json"
TMP_SUFFIX = ".tmp"


class Writable(Protocol):
    """A file of the data directory as `write_files` sees it."""

    @property
    def path(self) -> Path: ...

    def serialize(self) -> bytes: ...


def write_files(files: Iterable[Writable], directory: Path) -> None:
    """Replace each file atomically, then make the renames durable (see the module docstring)."""
    staged: list[tuple[Path, Writable]] = []
    current: Path = directory
    try:
        for f in files:
            current = f.path
            tmp = f.path.with_name(f".{f.path.name}{TMP_SUFFIX}")
            # Listed first: a write the disk refuses part-way leaves no half
            # file holding the space it got.
            staged.append((tmp, f))
            write_fsynced(tmp, f.serialize())
        for tmp, f in staged:
            current = f.path
            tmp.replace(f.path)
        current = directory
        if staged:
            fsync_directory(directory)
    except OSError as exc:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise StoreError(f"cannot write {current}: {exc.strerror or exc}") from exc


def write_fsynced(path: Path, payload: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        # The mode above only applies when the file is created; a leftover
        # temp file keeps its own, so set it explicitly.
        os.fchmod(fd, 0o600)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_files(paths: Iterable[Path], directory: Path) -> None:
    removed = False
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot remove {path}: {exc.strerror}") from exc
        removed = True
    if removed:
        fsync_directory(directory)


def remove_stale_temp_files(directory: Path) -> None:
    """Temp files left by a crash mid-write; the real file is the old, whole version."""
    for stale in directory.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            stale.unlink()


def ensure_directory(directory: Path) -> None:
    """Create the data directory (mode 0700) unless it exists; an existing one keeps its mode."""
    try:
        directory.mkdir(parents=True, mode=0o700)
        # mkdir's mode is filtered by the umask; be explicit.
        directory.chmod(0o700)
    except FileExistsError:
        if not directory.is_dir():
            raise StoreError(f"data directory {directory} exists but is not a directory") from None
    except OSError as exc:
        raise StoreError(f"cannot open data directory {directory}: {exc.strerror or exc}") from exc


class DirectoryLock:
    """This process's hold on a data directory: `LOCK` held, `owner.json` naming it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock: FileLock | None = None

    def acquire(self) -> None:
        """Take the directory; StoreLockedError naming the holder when another process has it."""
        directory = self.directory
        # thread_local=False: the store is opened and closed from different
        # threads. Don't write into LOCK: filelock owns it.
        lock = FileLock(directory / LOCK_FILE, timeout=0, mode=0o600, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise StoreLockedError(describe_holder(directory)) from None
        except OSError as exc:
            raise StoreError(
                f"cannot open data directory {directory}: {exc.strerror or exc}"
            ) from exc
        self._lock = lock
        try:
            owner = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            tmp = directory / f".{OWNER_FILE}{TMP_SUFFIX}"
            write_fsynced(tmp, orjson.dumps(owner))
            tmp.replace(directory / OWNER_FILE)
        except OSError as exc:
            self.release()
            raise StoreError(f"cannot write {directory / OWNER_FILE}: {exc.strerror}") from exc

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        # Remove owner.json while still holding the lock, so it never names a
        # process that no longer holds the directory after a clean close.
        with contextlib.suppress(OSError):
            (self.directory / OWNER_FILE).unlink()
        lock.release()


def describe_holder(directory: Path) -> str:
    """Who holds the directory, from owner.json when readable, with what to do."""
    try:
        owner = orjson.loads((directory / OWNER_FILE).read_bytes())
        pid, host = int(owner["pid"]), str(owner["host"])
        started = _parse_time(owner.get("started"))
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return (
            f"data directory {directory} is in use by another process (its {OWNER_FILE} "
            "is missing or unreadable); stop it or use another BRIEFBOT_DATA"
        )
    when = f"started {started:%Y-%m-%d %H:%M} UTC on host {host}" if started else f"on host {host}"
    return (
        f"data directory {directory} is in use by process {pid} ({when}); "
        "stop it or use another BRIEFBOT_DATA"
    )


def is_held(directory: Path) -> bool:
    """Whether a live process holds the directory's LOCK (owner.json outlives a kill -9)."""
    if not (directory / LOCK_FILE).exists():
        return False
    probe = FileLock(directory / LOCK_FILE, timeout=0, thread_local=False)
    try:
        probe.acquire()
    except Timeout:
        return True
    except OSError:
        return (directory / OWNER_FILE).exists()  # cannot tell: trust owner.json
    probe.release()
    return False


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
