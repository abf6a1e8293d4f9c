"""`python -m relance_notifier`: the Kafka subscriber and the HTTP server (/health,
/metrics, the SMS provider's delivery reports, /operations/dead-letters) in one asyncio loop, stopped cleanly on
SIGTERM / SIGINT."""

import asyncio

import structlog

from relance.db import create_pool
from relance.dead_letters import DeadLetters, default_transient, install_dead_letter_routes
from relance.health import broker_check, postgres_check
from relance.kafka import ensure_topics, run_broker
from relance.observability import configure_observability, operations_app
from relance.runtime import serve
from relance.topics import COMMUNICATION_COMMANDS, COMMUNICATION_EVENTS
from relance_notifier.api.delivery_reports import install_delivery_reports
from relance_notifier.channels.base import Channel, TransientSendError
from relance_notifier.channels.email import EmailChannel
from relance_notifier.channels.letter import LetterChannel
from relance_notifier.channels.sms import SmsChannel
from relance_notifier.messaging.subscriber import build_broker
from relance_notifier.persistence.migrations import SCHEMA
from relance_notifier.service import Notifier
from relance_notifier.settings import Settings

log = structlog.get_logger(__name__)




def build_channels(settings: Settings) -> dict[str, Channel]:
    """Email and internal emails share the SMTP relay and its rate limit; SMS exists only
    when a provider is configured (otherwise SMS commands fail as not supported)."""
    email = EmailChannel(settings)
    channels: dict[str, Channel] = {
        "email": email,
        "internal_email": email,
        "letter": LetterChannel(settings),
    }
    if settings.sms_provider_url:
        channels["sms"] = SmsChannel(settings)
    else:
        log.warning("notifier.sms_disabled", reason="SMS_PROVIDER_URL is not set")
    return channels


async def main() -> None:
    settings = Settings()
    configure_observability(settings)
    await ensure_topics(
        settings.kafka_bootstrap_servers, topics=(COMMUNICATION_COMMANDS, COMMUNICATION_EVENTS)
    )
    # Its own schema only: everything it needs of the dossier comes in the command.
    pool = await create_pool(settings.database_url, schema=SCHEMA, max_size=settings.db_pool_size)
    notifier = Notifier(pool, build_channels(settings), settings)
    # A channel that keeps failing transiently (the provider down, our own SMTP settings)
    # fails every command alike: an outage, retried until it ends, never a dead letter.
    dead_letters = DeadLetters.from_settings(
        pool, settings,
        transient=lambda error: isinstance(error, TransientSendError) or default_transient(error),
    )
    broker = build_broker(settings, notifier, dead_letters)
    app = operations_app(
        settings.service_name,
        {"postgres": postgres_check(pool), "kafka": broker_check(broker)},
    )
    install_dead_letter_routes(app, dead_letters, settings.kafka_bootstrap_servers,
                               settings.internal_api_token)
    install_delivery_reports(app, notifier, settings)

    async def on_stop() -> None:
        sms = notifier.channel("sms")
        if isinstance(sms, SmsChannel):
            await sms.aclose()
        email = notifier.channel("email")
        if isinstance(email, EmailChannel):
            await email.aclose()  # QUIT the pooled SMTP connections
        await pool.close()
        log.info("notifier.stopped")

    log.info("notifier.starting", http_port=settings.http_port)
    await serve(
        app,
        settings.http_port,
        host=settings.http_host,
        background=[run_broker(broker, "notifier"), dead_letters.refresh_periodically()],
        on_stop=on_stop,
    )


if __name__ == "__main__":
    asyncio.run(main())
