"""`python -m relance_agency_simulator`: the simulated agency on HTTP_PORT (8400)."""

import asyncio

from relance.observability import configure_observability
from relance.runtime import serve
from relance_agency_simulator.app import Settings, create_app


def main() -> None:
    settings = Settings()
    configure_observability(settings)
    app = create_app(settings)

    async def on_stop() -> None:
        await app.state.gateway.aclose()

    asyncio.run(serve(app, settings.http_port, host=settings.http_host, on_stop=on_stop))


if __name__ == "__main__":
    main()
