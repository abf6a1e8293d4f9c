"""`python -m relance_agency_simulator`: the simulated agency on HTTP_PORT (8400)."""

import asyncio

from relance.observability import configure_observability
from relance.runtime import serve
from relance_agency_simulator.app import Settings, create_app


def main() -> None:
    settings = Settings()
    configure_observability(settings)
    asyncio.run(serve(create_app(settings), settings.http_port, host=settings.http_host))


if __name__ == "__main__":
    main()
