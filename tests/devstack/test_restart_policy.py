"""`relance up` restarts a process that died, with backoff, and stops only when one keeps
crashing (issue: nothing stuck — a killed worker no longer takes the platform down)."""

import pytest

from relance_devstack.supervisor import KeepsCrashing, RestartPolicy, ServiceSpec, Supervisor


def test_the_delay_doubles_with_each_crash_in_a_row_up_to_its_cap() -> None:
    policy = RestartPolicy(base_delay=1, max_delay=30)

    assert [policy.next_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_process_that_ran_longer_than_the_window_starts_its_count_again() -> None:
    policy = RestartPolicy(window=60)

    assert policy.crashes_in_a_row(0, None) == 1
    assert policy.crashes_in_a_row(3, since_last_crash=59) == 4
    assert policy.crashes_in_a_row(3, since_last_crash=61) == 1


def test_a_crashed_process_is_restarted_after_its_delay_and_one_that_keeps_crashing_stops_all(
    tmp_path,
) -> None:
    # `python -m this` prints and exits at once: a process that crashes every time.
    supervisor = Supervisor({}, tmp_path, restart_policy=RestartPolicy(base_delay=1, max_crashes=2))
    first = supervisor.start(ServiceSpec("crasher", "this", 0))
    first.process.wait(30)
    lines: list[str] = []

    supervisor.supervise(report=lines.append, now=100.0)
    assert lines == [f"!! crasher stopped (exit 0); restarting in 1 s; see {first.log_path}"]
    supervisor.supervise(report=lines.append, now=100.5)
    assert supervisor.running["crasher"] is first, "not before its delay"

    supervisor.supervise(report=lines.append, now=101.0)
    second = supervisor.running["crasher"]
    assert second is not first and lines[-1] == f"   crasher restarted (pid {second.process.pid})"
    second.process.wait(30)

    supervisor.supervise(report=lines.append, now=102.0)
    assert lines[-1].startswith("!! crasher stopped (exit 0); restarting in 2 s")
    supervisor.supervise(report=lines.append, now=104.0)
    supervisor.running["crasher"].process.wait(30)

    with pytest.raises(KeepsCrashing, match="crasher crashed 3 times in a row"):
        supervisor.supervise(report=lines.append, now=105.0)
    supervisor.stop_all()
