from pydantic import Field

from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "transfer-gateway"
    http_port: int = 8100
    db_pool_size: int = 10
    # transfer.events: records fetched per batch, and clients whose events are applied at
    # once (one client's in order); each applied event holds one database connection.
    transfer_events_batch_size: int = Field(default=200, ge=1)
    transfer_events_concurrency: int = Field(default=4, ge=1)

    # Admins' bearer tokens are checked by the dossier service (DOSSIER_API_URL), which owns
    # the users (GET /auth/introspect); a positive answer is kept this long.
    dossier_api_timeout_seconds: float = 5.0
    admin_token_cache_seconds: float = 30.0

    # Inbound signatures (F-31): how far an agency's timestamp may be from our clock.
    signature_tolerance_seconds: int = 300
    # Signatures seen within that window are refused; past it they are pruned this often.
    replay_cache_prune_seconds: float = 60.0

    # Outbound webhooks: exponential backoff with full jitter, dead letter after N tries.
    webhook_max_attempts: int = 8
    webhook_backoff_base_seconds: float = 5.0
    webhook_backoff_max_seconds: float = 3600.0
    webhook_timeout_seconds: float = 10.0
    webhook_poll_seconds: float = 1.0
    webhook_batch_size: int = 20
    # Webhook URLs are https and public (no loopback, private or link-local address), at
    # registration and after DNS resolution at send time. True allows http and loopback,
    # for local development and the agency simulator (`relance up` and the tests set it).
    webhook_allow_insecure_urls: bool = False
    # Host names (comma separated) whose addresses may be private: the agency simulator
    # on a compose network. Link-local addresses stay refused.
    webhook_internal_hosts: str = ""

    # Fernet keys encrypting the agencies' signing secrets at rest, comma separated: the
    # first encrypts, all decrypt. Unset, a key is generated once into DATA_DIR (fine for
    # a single machine; set it explicitly wherever DATA_DIR does not persist).
    credentials_encryption_keys: str = ""

    shutdown_grace_seconds: float = 10.0

    # A demo agency registered on start when a code is given (`relance up` sets these and
    # gives the same credentials to the agency simulator).
    demo_agency_code: str | None = None
    demo_agency_name: str = "Recouvéo (simulated)"
    demo_agency_key: str | None = None
    demo_agency_secret: str | None = None
    demo_agency_webhook_url: str | None = None
