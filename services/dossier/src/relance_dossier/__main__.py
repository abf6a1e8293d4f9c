"""`python -m relance_dossier`: migrate the schema, then serve the dossier API."""

import asyncio

from relance.observability import configure_logging
from relance.runtime import serve
from relance_dossier.api.app import create_app
from relance_dossier.persistence.migrations import upgrade
from relance_dossier.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    if settings.migrate_on_start:
        upgrade(settings.database_url)
    asyncio.run(serve(create_app(settings), settings.http_port, host=settings.http_host))


if __name__ == "__main__":
    main()
