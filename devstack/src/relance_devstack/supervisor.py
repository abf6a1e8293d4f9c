"""Starting Relance's own processes next to a stack: the outbox relay, the four services
and the agency simulator, each a real process with its own log file, ready when its
`/health` answers 200. Used by `relance up` and by the integration tests."""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from relance_devstack.embedded import free_port, start_process, stop_process


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    default_port: int


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("relay", "relance.relay", 8010),
    ServiceSpec("dossier", "relance_dossier", 8000),
    ServiceSpec("transfer-gateway", "relance_gateway", 8100),
    ServiceSpec("notifier", "relance_notifier", 8200),
    ServiceSpec("workflow", "relance_workflow", 8300),
    ServiceSpec("agency-simulator", "relance_agency_simulator", 8400),
    ServiceSpec("console", "relance_console", 8080),
)


@dataclass
class RestartPolicy:
    """When a crashed process comes back: after `base_delay` seconds, doubling with each
    crash that follows within `window` seconds of the previous one, up to `max_delay`; a
    process that crashes more than `max_crashes` times in a row, each within the window,
    keeps crashing and stops the platform instead."""

    base_delay: float = 1.0
    max_delay: float = 30.0
    window: float = 60.0
    max_crashes: int = 5

    def next_delay(self, crashes_in_a_row: int) -> float:
        return min(self.base_delay * 2 ** max(crashes_in_a_row - 1, 0), self.max_delay)

    def crashes_in_a_row(self, previous: int, since_last_crash: float | None) -> int:
        """The count after one more crash: a process that ran longer than the window since
        its last crash starts again from one."""
        if since_last_crash is None or since_last_crash > self.window:
            return 1
        return previous + 1

    def gives_up(self, crashes_in_a_row: int) -> bool:
        return crashes_in_a_row > self.max_crashes


class KeepsCrashing(RuntimeError):
    """A process crashed more often in a row than the restart policy allows."""


@dataclass
class RunningService:
    spec: ServiceSpec
    port: int
    process: subprocess.Popen
    log_path: Path
    crashes_in_a_row: int = 0
    last_crash_at: float | None = None
    restart_at: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Supervisor:
    env: dict[str, str]
    logs_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    running: dict[str, RunningService] = field(default_factory=dict)
    # The demo agency: the gateway registers it on start and the simulator answers as it.
    demo_agency_code: str = "RECOUVEO"
    demo_agency_key: str = field(default_factory=lambda: f"ak_demo_{secrets.token_urlsafe(24)}")
    # A Standard Webhooks secret (whsec_ + base64), as the gateway issues them (F-31).
    demo_agency_secret: str = field(
        default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    # The services' calls to each other's internal routes carry this token.
    internal_api_token: str = field(default_factory=lambda: f"int_{secrets.token_urlsafe(24)}")

    @classmethod
    def with_free_ports(cls, env: dict[str, str], logs_dir: Path, **kwargs) -> Supervisor:
        return cls(env, logs_dir, ports={s.name: free_port() for s in SERVICES}, **kwargs)

    def start_all(self, timeout: float = 90.0) -> None:
        try:
            for spec in SERVICES:
                self.start(spec)
            for service in self.running.values():
                self.wait_healthy(service, timeout)
        except BaseException:
            self.stop_all()
            raise

    def start(self, spec: ServiceSpec) -> RunningService:
        port = self.ports.get(spec.name, spec.default_port)
        log_path = self.logs_dir / f"{spec.name}.log"
        env = {
            **self.env,
            "HTTP_PORT": str(port),
            "MIGRATE_ON_START": "false",
            "INTERNAL_API_TOKEN": self.env.get("INTERNAL_API_TOKEN", self.internal_api_token),
            **self._service_urls_env(spec.name),
            **self._demo_agency_env(spec.name),
            **self.extra_env.get(spec.name, {}),
        }
        process = start_process([sys.executable, "-m", spec.module], log_path, env)
        service = RunningService(spec, port, process, log_path)
        self.running[spec.name] = service
        return service

    def restart(self, name: str, env: dict[str, str], timeout: float = 90.0) -> RunningService:
        """Stop one service and start it again with `env` over its settings (a deploy of a
        new configuration); returns it once healthy."""
        service = self.running[name]
        stop_process(service.process, timeout=15)
        self.extra_env[name] = {**self.extra_env.get(name, {}), **env}
        restarted = self.start(service.spec)
        self.wait_healthy(restarted, timeout)
        return restarted

    def url_of(self, name: str) -> str:
        spec = next(s for s in SERVICES if s.name == name)
        return f"http://127.0.0.1:{self.ports.get(name, spec.default_port)}"

    def _service_urls_env(self, service: str) -> dict[str, str]:
        """Where a service finds the APIs of the others it asks: the dossier asks the
        gateway about agencies; the others ask the dossier (who an admin's token is, the
        payload of an event too large for a message)."""
        if service == "dossier":
            return {"GATEWAY_API_URL": self.url_of("transfer-gateway")}
        return {"DOSSIER_API_URL": self.url_of("dossier")}

    def _demo_agency_env(self, service: str) -> dict[str, str]:
        """The same demo agency credentials for the gateway and the agency simulator."""
        def url(name: str, default: int) -> str:
            return f"http://127.0.0.1:{self.ports.get(name, default)}"

        if service == "transfer-gateway":
            # The simulator listens on http://127.0.0.1: allowed for this local platform
            # only (a real gateway refuses http and loopback webhook URLs, F-31).
            return {"DEMO_AGENCY_CODE": self.demo_agency_code, "DEMO_AGENCY_KEY": self.demo_agency_key,
                    "DEMO_AGENCY_SECRET": self.demo_agency_secret,
                    "DEMO_AGENCY_WEBHOOK_URL": url("agency-simulator", 8400) + "/webhooks",
                    "WEBHOOK_ALLOW_INSECURE_URLS": "true"}
        if service == "console":
            return {"DOSSIER_API_URL": url("dossier", 8000), "GATEWAY_API_URL": url("transfer-gateway", 8100)}
        if service == "agency-simulator":
            return {"GATEWAY_URL": url("transfer-gateway", 8100), "AGENCY_CODE": self.demo_agency_code,
                    "AGENCY_KEY": self.demo_agency_key, "AGENCY_SECRET": self.demo_agency_secret}
        return {}

    def wait_healthy(self, service: RunningService, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.spec.name} exited with {service.process.returncode};"
                    f" its log:\n{_tail(service.log_path)}"
                )
            try:
                response = httpx.get(f"{service.url}/health", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(
            f"{service.spec.name} not healthy after {timeout}s ({last});"
            f" its log:\n{_tail(service.log_path)}"
        )

    def dead(self) -> list[RunningService]:
        return [s for s in self.running.values() if s.process.poll() is not None]

    def supervise(self, report=print, now: float | None = None) -> None:
        """One round of watching: a process that died is restarted after the policy's
        backoff (its log says why it died); one that keeps crashing raises KeepsCrashing.
        `relance up` calls this every second."""
        now = time.monotonic() if now is None else now
        for service in list(self.running.values()):
            if service.process.poll() is None:
                continue
            if service.restart_at is None:
                since = None if service.last_crash_at is None else now - service.last_crash_at
                service.crashes_in_a_row = self.restart_policy.crashes_in_a_row(
                    service.crashes_in_a_row, since
                )
                service.last_crash_at = now
                if self.restart_policy.gives_up(service.crashes_in_a_row):
                    raise KeepsCrashing(
                        f"{service.spec.name} crashed {service.crashes_in_a_row} times in a row;"
                        f" its log:\n{_tail(service.log_path)}"
                    )
                delay = self.restart_policy.next_delay(service.crashes_in_a_row)
                service.restart_at = now + delay
                report(f"!! {service.spec.name} stopped (exit {service.process.returncode});"
                       f" restarting in {delay:g} s; see {service.log_path}")
            elif now >= service.restart_at:
                restarted = self.start(service.spec)
                restarted.crashes_in_a_row = service.crashes_in_a_row
                restarted.last_crash_at = service.last_crash_at
                report(f"   {service.spec.name} restarted (pid {restarted.process.pid})")

    def stop_all(self) -> None:
        # Producers first, so nothing is half-processed when the consumers go.
        for service in reversed(list(self.running.values())):
            stop_process(service.process, timeout=15)
        self.running.clear()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
