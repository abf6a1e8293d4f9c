"""The console's server time for its two busiest pages on the demo data (issue: the client
card and the agenda, goal p95 under 100 ms): the platform's processes and the console on
the bench's stack, the demo clients and users of `relance up`, then a signed-in collector
loads each page N times; each answer's `Server-Timing` header gives the console's time
(which includes its calls to the dossier API)."""

from __future__ import annotations

import re
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from relance_devstack.demo import load_demo, load_demo_users
from relance_devstack.embedded import free_port
from relance_devstack.mailsink import start_mail_sink
from relance_devstack.supervisor import Supervisor
from relance_dossier.api.auth import new_token

PAGES = {"client card": "/clients/C-ACME", "agenda": "/agenda"}
GOAL_MS = 100.0


def _server_ms(response: httpx.Response) -> float:
    return float(response.headers["server-timing"].split("dur=", 1)[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@contextmanager
def signed_in(console_url: str, username: str, password: str) -> Iterator[httpx.Client]:
    """A browser-like session on the console: its sign-in form, CSRF token included."""
    with httpx.Client(base_url=console_url, timeout=30) as console:
        login = console.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert csrf is not None, login.text
        signed = console.post("/login", data={"csrf_token": csrf.group(1), "username": username,
                                              "password": password, "next": "/agenda"})
        assert signed.status_code in (200, 303), signed.text
        yield console


def page_times(console: httpx.Client, paths: list[str], requests: int, warm_up: int = 5) -> dict:
    """Load the paths in turn, `requests` times in all after a warm-up: the console's
    server time (p50, p95) from each answer's `Server-Timing` header."""
    for i in range(warm_up):
        console.get(paths[i % len(paths)]).raise_for_status()
    times = []
    for i in range(requests):
        response = console.get(paths[i % len(paths)])
        response.raise_for_status()
        times.append(_server_ms(response))
    return {"path": paths[0], "pages": len(paths), "requests": requests,
            "p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 0.95), 1),
            "goal_p95_ms": GOAL_MS}


def run_console_bench(stack, requests: int = 100) -> dict:
    admin_token = new_token()
    with tempfile.TemporaryDirectory(prefix="relance-bench-mail-") as mail_dir:
        smtp_port = free_port()
        sink = start_mail_sink(Path(mail_dir), smtp_port)
        supervisor = Supervisor.with_free_ports(
            {**stack.env(), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
             "BOOTSTRAP_ADMIN_TOKEN": admin_token, "LOG_LEVEL": "WARNING"},
            stack.logs_dir,
        )
        try:
            supervisor.start_all()
            dossier = supervisor.running["dossier"].url
            load_demo(dossier, admin_token)
            users = {name: password for name, _role, password in load_demo_users(dossier, admin_token)}
            with signed_in(supervisor.running["console"].url, "claire", users["claire"]) as console:
                return {label: page_times(console, [path], requests) for label, path in PAGES.items()}
        finally:
            supervisor.stop_all()
            sink.stop()


def console_note(results: dict) -> str:
    parts = [f"{label} p95 {r['p95_ms']:.0f} ms (p50 {r['p50_ms']:.0f})" for label, r in results.items()]
    verdict = "ok" if all(r["p95_ms"] < GOAL_MS for r in results.values()) else "over the goal"
    return f"console server time, {next(iter(results.values()))['requests']} loads each: " + ", ".join(parts) + \
        f" — goal p95 < {GOAL_MS:.0f} ms: {verdict}"
