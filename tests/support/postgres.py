"""A real PostgreSQL server for the test run: started once, a fresh database per test.

`PostgresServer.start()` finds PostgreSQL's programs (PATH, then
/usr/lib/postgresql/*/bin), makes a cluster in a new directory under /tmp
with `initdb` and starts it on 127.0.0.1 at a free port (PostgreSQL cannot be
given port 0: a port is picked, and another tried if it was taken meanwhile).
initdb refuses to run as root, so as root the cluster belongs to the
`postgres` user (`runuser -u postgres`) and its directory is handed to it.
Connections over TCP need the password `DATABASE_PASSWORD` (scram-sha-256),
which the secret-leak detector knows: a URL with it must never show.
Durability is off (fsync, synchronous_commit): the tests kill processes, not
the machine.

`database()` hands out an empty database (created from a template, or one
given back with `release()` and emptied) and returns its URL; `copy(url)` one
holding what another holds (a polled template a test starts from); `stop()`
stops the server and removes the directory. When no PostgreSQL can be found
or started, `start()` raises `PostgresUnavailable` with the reason, which the
fixtures turn into a skip.

Set BRIEFBOT_TEST_DATABASE_URL to a server of your own (a superuser's URL,
any database) to use it instead: each test still gets a database of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["PostgresServer", "PostgresUnavailable"]

# One template per pytest-xdist worker: workers sharing a server of your own must not drop
# each other's.
_TEMPLATE = "briefbot_template_" + (os.environ.get("PYTEST_XDIST_WORKER") or "main")
_START_ATTEMPTS = 3


class PostgresUnavailable(Exception):
    """No PostgreSQL server could be started here; the message says why."""


def _find_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not versions:
        raise PostgresUnavailable(
            "PostgreSQL is not installed (no pg_ctl on PATH or in /usr/lib/postgresql); "
            "install it with `apt-get install -y postgresql`"
        )
    return versions[0].parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One throwaway PostgreSQL cluster (see the module docstring)."""

    def __init__(self) -> None:
        self.url = ""  # a superuser's URL to the `postgres` database, once started
        self._dir: Path | None = None
        self._bin: Path | None = None
        self._as_postgres = os.geteuid() == 0
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._free: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> PostgresServer:
        external = os.environ.get("BRIEFBOT_TEST_DATABASE_URL", "").strip()
        if external:
            self.url = external
            self._make_template()
            return self
        from tests.support.secretscan import DATABASE_PASSWORD  # loaded as a plugin first

        self._bin = _find_bin()
        self._dir = Path(tempfile.mkdtemp(prefix="briefbot-pg-"))
        try:
            self._initdb()
            port = self._start_server()
        except BaseException:
            self.stop()
            raise
        self.url = f"postgresql://postgres:{DATABASE_PASSWORD}@127.0.0.1:{port}/postgres"
        self._make_template()
        return self

    def stop(self) -> None:
        directory, self._dir = self._dir, None
        if directory is None:
            return
        if (directory / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(directory / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(directory, ignore_errors=True)

    def database(self) -> str:
        """An empty database (nothing in its public schema); its URL, with the password.

        A database given back with `release` is emptied and handed out again:
        emptying one takes a tenth of the time of creating one.
        """
        with self._lock:
            reused = self._free.pop() if self._free else None
        if reused is not None:
            try:
                self.reset(reused)
            except Exception:  # a broken one is dropped and a new one made
                self.drop(reused)
            else:
                return reused
        with self._lock:
            name = f"t{os.getpid()}_{next(self._counter)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE {_TEMPLATE}')
        return self.url_of(name)

    def copy(self, url: str) -> str:
        """A new database holding what the database at `url` holds (none may be connected to it)."""
        source = urlsplit(url).path.lstrip("/")
        with self._lock:
            name = f"t{os.getpid()}_{next(self._counter)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return self.url_of(name)

    def reset(self, url: str) -> None:
        """Empty the database at `url`: its connections ended, its public schema made anew."""
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")

    def release(self, url: str) -> None:
        """Give a database back for reuse (emptied when handed out next)."""
        with self._lock:
            self._free.append(url)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with contextlib.suppress(Exception):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url_of(self, database: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))

    # ------------------------------------------------------------------ helpers

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        assert self._bin is not None
        command = [str(self._bin / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def _initdb(self) -> None:
        directory = self._dir
        assert directory is not None
        from tests.support.secretscan import DATABASE_PASSWORD

        secret = directory / "pwfile"
        secret.write_text(DATABASE_PASSWORD + "\n")
        if self._as_postgres:
            try:
                shutil.chown(directory, "postgres")
                shutil.chown(secret, "postgres")
            except (LookupError, OSError) as exc:
                raise PostgresUnavailable(f"no `postgres` user to run initdb as: {exc}") from None
        done = self._run(
            "initdb",
            "-D",
            str(directory / "data"),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={secret}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        secret.unlink()
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {done.stderr.strip()[-500:]}")

    def _start_server(self) -> int:
        directory = self._dir
        assert directory is not None
        options = (
            "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            f"-c full_page_writes=off -c max_connections=200 -k {directory}"
        )
        failure = ""
        for _ in range(_START_ATTEMPTS):
            port = _free_port()
            done = self._run(
                "pg_ctl",
                "-D",
                str(directory / "data"),
                "-o",
                f"{options} -p {port}",
                "-l",
                str(directory / "server.log"),
                "-w",
                "start",
            )
            if done.returncode == 0:
                return port
            failure = done.stderr.strip() or done.stdout.strip()
        log = directory / "server.log"
        tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
        raise PostgresUnavailable(f"pg_ctl start failed: {failure[-300:]} {tail}")

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement.encode())

    def _make_template(self) -> None:
        import psycopg

        try:
            self._admin(f"DROP DATABASE IF EXISTS {_TEMPLATE} WITH (FORCE)")
            self._admin(f"CREATE DATABASE {_TEMPLATE}")
            with psycopg.connect(self.url_of(_TEMPLATE), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"cannot prepare a template database: {exc}") from None
