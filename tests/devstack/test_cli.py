"""The `relance` command: `--version`, its exit codes in `--help`, and one line (no
traceback) with a non-zero exit when the database or the broker cannot be reached."""

import subprocess
import sys

import pytest

from relance_devstack.cli import EXIT_UNREACHABLE, main
from relance_devstack.embedded import free_port


def _relance(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "relance_devstack.cli", *args], capture_output=True, text=True,
        timeout=60, env={**os.environ, **(env or {})},
    )


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    done = _relance("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"relance {version('relance-devstack')}"


def test_help_documents_the_exit_codes() -> None:
    done = _relance("--help")
    assert done.returncode == 0
    assert "exit status:" in done.stdout
    for code in ("0", "1", "2", "3", "4"):
        assert f"\n  {code}  " in done.stdout
    assert "unreachable" in done.stdout


@pytest.mark.parametrize("command", [["migrate"], ["outbox", "parked"]])
def test_an_unreachable_database_is_one_line_and_exit_4(command) -> None:
    port = free_port()  # nothing listens there
    done = _relance(*command, env={"DATABASE_URL": f"postgresql://u:secret@127.0.0.1:{port}/relance"})
    assert done.returncode == EXIT_UNREACHABLE, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(f"relance: cannot reach the database at 127.0.0.1:{port}/relance (DATABASE_URL)")
    assert "secret" not in done.stderr  # never the password
    assert len([line for line in lines if line.startswith("relance:")]) == 1


def test_an_unknown_database_host_is_one_line_too(monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@relance-db.invalid:5432/relance")
    assert main(["outbox", "parked"]) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert err.startswith("relance: cannot reach the database at relance-db.invalid:5432/relance")
    assert err.count("\n") == 1


def test_an_unreachable_broker_is_one_line_and_exit_4() -> None:
    port = free_port()
    done = _relance("topics", env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"})
    assert done.returncode == EXIT_UNREACHABLE
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"relance: cannot reach the Kafka broker at 127.0.0.1:{port}")


def test_an_unknown_command_is_a_usage_error() -> None:
    assert _relance("nonsense").returncode == 2


def test_a_bug_keeps_its_traceback(monkeypatch) -> None:
    import relance_devstack.cli as cli

    def broken(_args):
        raise ValueError("a bug, not a server")

    monkeypatch.setattr(cli, "cmd_topics", broken)
    with pytest.raises(ValueError):
        cli.main(["topics"])
