"""Settings shared by every service. Each service subclasses `CommonSettings` with its own
port and knobs; every value can be set from the environment (e.g. DATABASE_URL)."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from relance.contracts import DOSSIER_TASK_QUEUE


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Real servers replace the embedded ones through these three.
    database_url: str = "postgresql://postgres:postgres@127.0.0.1:5432/relance"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "relance"
    # The Temporal SDK's Prometheus metrics (temporal_*) listen on this loopback port (a free
    # one when 0) and are appended to the service's /metrics.
    temporal_metrics_port: int = 0
    # The dossier service's worker runs the activities that change dossier data here;
    # the workflow service names this queue in the workflows it starts.
    temporal_dossier_task_queue: str = DOSSIER_TASK_QUEUE
    # F-28: a transfer can be cancelled at once within this window (24 h; shorter for
    # demos). F-30: an agency that has not answered a cancellation request after the delay
    # is overdue. Read by the bridge and by the dossier API, which may start the transfer's
    # workflow itself when a cancel arrives first (update-with-start).
    transfer_window_seconds: float = 86400
    transfer_agency_answer_delay_seconds: float = 5 * 86400

    # Containers set HTTP_HOST=0.0.0.0; the embedded stack stays on loopback.
    http_host: str = "127.0.0.1"
    data_dir: Path = Path(".relance")
    log_level: str = "INFO"
    log_json: bool = False
    service_name: str = "relance"
    # Traces go over OTLP/HTTP to this collector (e.g. http://jaeger:4318); off when empty.
    otel_exporter_otlp_endpoint: str = ""
    # The service name in the traces (default: relance-<service_name>).
    otel_service_name: str = ""

    # Service-to-service calls (`/internal/...` routes) carry this token when it is set;
    # every service of one deployment is given the same value.
    internal_api_token: str | None = None
    # The dossier API: consumers read back the payload of an event too large for a message
    # there (relance.claims); the gateway also asks it who an admin's token is.
    dossier_api_url: str = "http://127.0.0.1:8000"

    # A consumed message that keeps failing: this many attempts with exponential backoff
    # (base, doubling, up to max), then it is parked as a dead letter and the partition
    # moves on. An outage (database, Temporal) is retried without limit and parks nothing.
    consumer_max_attempts: int = 5
    consumer_retry_base_seconds: float = 0.5
    consumer_retry_max_seconds: float = 10.0
