"""`python -m relance_gateway`: serve the transfer gateway on HTTP_PORT (8100)."""

import asyncio

from relance.observability import configure_logging
from relance.runtime import serve
from relance_gateway.api.app import create_app
from relance_gateway.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    asyncio.run(serve(create_app(settings), settings.http_port, host=settings.http_host))


if __name__ == "__main__":
    main()
