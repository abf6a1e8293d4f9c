"""Notifier settings; every value can be set from the environment (e.g. SMTP_HOST)."""

from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "notifier"

    # /health and /metrics (set HTTP_HOST=0.0.0.0 in a container).
    http_port: int = 8200

    # SMTP relay used by the email channel.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False  # implicit TLS (port 465)
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "relance@localhost"
    # Connections to the relay kept open and reused (email and internal email share them):
    # at most this many messages in the relay's hands at once. One idle longer than
    # SMTP_POOL_IDLE_SECONDS is closed rather than reused (relays drop idle clients).
    smtp_pool_size: int = 4
    smtp_pool_idle_seconds: float = 30.0
    # Rate limits are per notifier process (each replica spreads its own share).
    email_rate_per_second: float = 50  # 0 or less: no limit; internal emails included

    # SMS through an HTTP provider: JSON POST with a bearer token. No URL: no SMS channel.
    sms_provider_url: str | None = None
    sms_provider_token: str | None = None
    sms_sender: str = "RELANCE"
    sms_timeout_seconds: float = 10.0
    sms_rate_per_second: float = 10  # 0 or less: no limit
    # The provider's delivery reports (POST /sms/delivery-reports) carry this bearer
    # token; unset: delivery reports are refused.
    sms_callback_token: str | None = None

    # Letters: PDF files under DATA_DIR/attachments/<client_id>/, recorded as documents.
    letter_sender_name: str = "Service recouvrement"
    letter_sender_address: str = ""
    letter_rate_per_second: float = 0  # local files: no limit by default

    # Transient send failures are retried inside the handler with exponential backoff,
    # then the message is left unacknowledged and redelivered by Kafka.
    send_max_attempts: int = 4
    send_retry_base_seconds: float = 0.5
    send_retry_max_seconds: float = 10.0
    # Commands fetched from Kafka at once, and how many clients' commands are handled at
    # once (each client's in order: relance.lanes).
    consumer_batch_size: int = 100
    send_concurrency: int = 8
    # How long a stopping consumer waits for the batch in hand.
    shutdown_grace_seconds: float = 15.0

    db_pool_size: int = 5
