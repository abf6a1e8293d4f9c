"""`python -m relance_gateway`: the transfer gateway on HTTP_PORT (8100): the agency and
admin APIs, the `transfer.events` consumer and the webhook dispatcher, in one loop."""

import asyncio
import contextlib
import os

import httpx
import structlog

from relance.db import create_pool
from relance.dead_letters import DeadLetters, install_dead_letter_routes
from relance.health import broker_check
from relance.kafka import ensure_topics, run_broker
from relance.observability import configure_observability
from relance.runtime import serve
from relance.topics import AGENCY_EVENTS, TRANSFER_EVENTS
from relance_gateway.api.admins import TokenIntrospection
from relance_gateway.api.app import create_app
from relance_gateway.domain.secret_box import SecretBox
from relance_gateway.domain.webhook_urls import url_problem
from relance_gateway.messaging.transfer_events import build_broker
from relance_gateway.messaging.webhooks import WebhookDispatcher
from relance_gateway.persistence.agencies import ensure_demo_agency
from relance_gateway.persistence.migrations import SCHEMA
from relance_gateway.persistence.replay_cache import run_pruning
from relance_gateway.settings import Settings

log = structlog.get_logger(__name__)


def secret_box(settings: Settings) -> SecretBox:
    """The signing secrets' encryption: configured keys, or one kept in DATA_DIR."""
    keys = [k.strip() for k in settings.credentials_encryption_keys.split(",") if k.strip()]
    if not keys:
        path = settings.data_dir / "gateway-credentials.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another instance made it first
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as key_file:
                    key_file.write(SecretBox.new_key())
                log.warning("gateway.credentials_key_generated", path=str(path))
        keys = [path.read_text().strip()]
    return SecretBox(keys)


async def main() -> None:
    settings = Settings()
    configure_observability(settings)
    await ensure_topics(settings.kafka_bootstrap_servers, topics=(TRANSFER_EVENTS, AGENCY_EVENTS))
    # The gateway's own schema only: admins are checked by the dossier API, not its tables.
    pool = await create_pool(settings.database_url, schema=SCHEMA, max_size=settings.db_pool_size)
    box = secret_box(settings)
    if settings.demo_agency_code and settings.demo_agency_key and settings.demo_agency_secret:
        if settings.demo_agency_webhook_url and (problem := url_problem(
                settings.demo_agency_webhook_url, allow_insecure=settings.webhook_allow_insecure_urls)):
            raise SystemExit(f"DEMO_AGENCY_WEBHOOK_URL {problem}"
                             " (WEBHOOK_ALLOW_INSECURE_URLS=true allows http and loopback)")
        await ensure_demo_agency(
            pool, code=settings.demo_agency_code, name=settings.demo_agency_name,
            api_key=settings.demo_agency_key, secret=settings.demo_agency_secret,
            webhook_url=settings.demo_agency_webhook_url, box=box,
        )
        log.info("gateway.demo_agency", code=settings.demo_agency_code)
    http = httpx.AsyncClient(follow_redirects=False)
    dispatcher = WebhookDispatcher(pool, settings, http, box)
    dead_letters = DeadLetters.from_settings(pool, settings)
    broker = build_broker(settings, pool, dispatcher.wake, dead_letters)
    introspection = TokenIntrospection(
        http, settings.dossier_api_url, cache_seconds=settings.admin_token_cache_seconds,
        timeout_seconds=settings.dossier_api_timeout_seconds,
    )
    app = create_app(settings, pool, dispatcher, box, introspection, {"kafka": broker_check(broker)},
                     http=http)
    install_dead_letter_routes(app, dead_letters, settings.kafka_bootstrap_servers,
                               settings.internal_api_token)

    async def on_stop() -> None:
        await http.aclose()
        await pool.close()
        log.info("gateway.stopped")

    await serve(
        app, settings.http_port, host=settings.http_host,
        background=[run_broker(broker, "gateway"), dispatcher.run(),
                    run_pruning(pool, settings.replay_cache_prune_seconds),
                    dead_letters.refresh_periodically()],
        on_stop=on_stop,
    )


if __name__ == "__main__":
    asyncio.run(main())
