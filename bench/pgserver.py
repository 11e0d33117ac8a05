"""A PostgreSQL cluster for the benchmarks: made once in a directory, started in one of two modes.

As tests/support/postgres.py does it: PostgreSQL's programs from PATH, else
the newest /usr/lib/postgresql/*/bin; `initdb` refuses to run as root, so as
root the cluster belongs to the `postgres` user (`runuser -u postgres`). The
server listens only on a Unix socket in the cluster's directory (trust
authentication, no password to leak), at a port picked free.

Two modes, because loading a million items and measuring are different jobs:

- `bulk`: durability off (fsync, synchronous_commit, full_page_writes), minimal
  WAL and 1 GB of maintenance_work_mem, for COPY and the index builds;
- `measure`: PostgreSQL's durable defaults (fsync and synchronous commit on),
  so an ingest pays for its commit as TinyDB's durable commit does; 1 GB of
  shared_buffers, as a database host would be given (the stock 128 MB is a
  laptop's setting).

`stop()` is a fast shutdown (a checkpoint): the cluster directory stays and a
later run may start it again (`python -m bench --workdir DIR` keeps it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["PgCluster", "PgUnavailable"]

_BULK = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c wal_level=minimal"
    " -c max_wal_senders=0 -c max_wal_size=8GB -c checkpoint_timeout=30min"
    " -c maintenance_work_mem=1GB -c shared_buffers=1GB"
)
_MEASURE = "-c shared_buffers=1GB -c effective_cache_size=8GB -c work_mem=32MB"


class PgUnavailable(Exception):
    """No PostgreSQL could be made or started here; the message says why."""


def _find_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not versions:
        raise PgUnavailable("PostgreSQL is not installed (apt-get install -y postgresql)")
    return versions[0].parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _let_postgres_through(folder: Path) -> None:
    """Let the `postgres` user reach `folder` (a work directory made 0700 by mkdtemp):
    search permission (o+x, not read) on each of our own folders above it that lacks it."""
    for part in [folder, *folder.parents]:
        info = part.stat()
        if info.st_uid == os.geteuid() and not info.st_mode & 0o001:
            part.chmod(info.st_mode | 0o001)


class PgCluster:
    """One cluster in `directory` (made on first `start`); `url(db)` once started."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self._as_postgres = os.geteuid() == 0
        self._bin: Path | None = None

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql:///{database}?host={self.directory}&port={self.port}&user=postgres"

    def start(self, mode: str) -> PgCluster:
        """Start the server in `mode` ("bulk" or "measure"), making the cluster if needed."""
        options = {"bulk": _BULK, "measure": _MEASURE}[mode]
        self._bin = _find_bin()
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self.stop()
        failure = ""
        for _ in range(3):
            self.port = _free_port()
            done = self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-o",
                f"-c listen_addresses='' -k {self.directory} -p {self.port} {options}",
                "-l",
                str(self.directory / "server.log"),
                "-w",
                "-t",
                "300",
                "start",
            )
            if done.returncode == 0:
                return self
            failure = (done.stderr or done.stdout).strip()
            time.sleep(0.5)
        raise PgUnavailable(f"pg_ctl start failed: {failure[-500:]}")

    def stop(self) -> None:
        if self._bin is not None and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "600", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _initdb(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        if self._as_postgres:
            _let_postgres_through(self.directory.parent)
            try:
                shutil.chown(self.directory, "postgres")
            except (LookupError, OSError) as exc:
                raise PgUnavailable(f"no `postgres` user to run initdb as: {exc}") from None
        done = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        if done.returncode != 0:
            raise PgUnavailable(f"initdb failed: {done.stderr.strip()[-500:]}")

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        assert self._bin is not None
        command = [str(self._bin / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
