"""`python -m relance_console`: serve the collectors' web console."""

import asyncio

from relance.observability import configure_logging
from relance.runtime import serve
from relance_console.app import create_app
from relance_console.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    asyncio.run(serve(create_app(settings), settings.http_port, host=settings.http_host))


if __name__ == "__main__":
    main()
