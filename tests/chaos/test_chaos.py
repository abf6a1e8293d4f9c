"""The short chaos run of `make test` (about two minutes): the platform under a steady
load while the services, the broker and Temporal are killed with SIGKILL in rotation and
PostgreSQL restarted; nothing lost, nothing applied twice (`bench/chaos.py`; the long
run is `make chaos`)."""

import asyncio

import pytest

from bench.chaos import chaos, report

pytestmark = pytest.mark.integration


def test_nothing_lost_nothing_twice_under_kills(tmp_path) -> None:
    lines: list[str] = []

    def out(line: str) -> None:
        print(line)
        lines.append(line)

    verdict, load, faults = asyncio.run(
        chaos(seconds=60, kill_every=5, servers=True, data_dir=tmp_path / "chaos", out=out))
    report(verdict, load, faults, out=out)
    assert sum(faults.kills[name] for name in ("workflow", "relay", "notifier", "transfer-gateway")) >= 4
    assert faults.kills["broker"] >= 1 and faults.kills["temporal"] >= 1 and faults.kills["postgres"] >= 1
    assert load.counts["transfers"] and load.counts["communications"] and load.counts["imports"]
    assert verdict.lost == 0 and verdict.duplicated == 0, "\n".join(lines)
    assert verdict.ok, "\n".join(lines)
