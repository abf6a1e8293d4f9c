"""Internal routes: what one service asks another (never agencies or browsers). When
INTERNAL_API_TOKEN is set, every internal call carries it in `X-Internal-Token`; unset
(the development stack), the internal routes are open like the rest of loopback."""

import hmac

from fastapi import Request

from relance.api.errors import ApiError

INTERNAL_TOKEN_HEADER = "X-Internal-Token"


def internal_headers(token: str | None) -> dict[str, str]:
    """The headers a service sends on its internal calls."""
    return {INTERNAL_TOKEN_HEADER: token} if token else {}


async def internal_caller(request: Request) -> None:
    """A dependency for internal routes: the shared token, when one is configured."""
    expected = getattr(request.app.state.settings, "internal_api_token", None)
    if not expected:
        return
    offered = request.headers.get(INTERNAL_TOKEN_HEADER, "")
    if not hmac.compare_digest(offered.encode(), expected.encode()):
        raise ApiError(401, INTERNAL_TOKEN_HEADER, "a valid internal API token is required")
