"""Starting Relance's own processes next to a stack: the outbox relay, the four services
and the agency simulator, each a real process with its own log file, ready when its
`/health` answers 200. Used by `relance up` and by the integration tests."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from relance.embedded import free_port, start_process, stop_process


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
class RunningService:
    spec: ServiceSpec
    port: int
    process: subprocess.Popen
    log_path: Path

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
    demo_agency_secret: str = field(default_factory=lambda: f"whsec_demo_{secrets.token_urlsafe(24)}")

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
            **self._demo_agency_env(spec.name),
            **self.extra_env.get(spec.name, {}),
        }
        process = start_process([sys.executable, "-m", spec.module], log_path, env)
        service = RunningService(spec, port, process, log_path)
        self.running[spec.name] = service
        return service

    def _demo_agency_env(self, service: str) -> dict[str, str]:
        """The same demo agency credentials for the gateway and the agency simulator."""
        def url(name: str, default: int) -> str:
            return f"http://127.0.0.1:{self.ports.get(name, default)}"

        if service == "transfer-gateway":
            return {"DEMO_AGENCY_CODE": self.demo_agency_code, "DEMO_AGENCY_KEY": self.demo_agency_key,
                    "DEMO_AGENCY_SECRET": self.demo_agency_secret,
                    "DEMO_AGENCY_WEBHOOK_URL": url("agency-simulator", 8400) + "/webhooks"}
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
