"""Upload size caps (issue 10, F-3, F-13, F-26): an import, a client attachment or an
intervention document larger than its cap is refused with 413 as soon as the bytes
received pass it (or at once when Content-Length says so), never buffered whole first.

The cap is enforced on the ASGI receive channel, so it holds for multipart uploads parsed
by the framework (whose file parts are spooled to disk) and for raw bodies the import
route streams to disk itself."""

import re
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse

from relance.api.errors import error_body

# Multipart framing (boundaries, part headers, the description field) on top of the file.
MULTIPART_OVERHEAD = 64 * 1024


class BodyTooLarge(HTTPException):
    """An HTTPException, so the framework's body parsing lets it through as is."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the upload is larger than the limit of {limit} bytes")
        self.limit = limit


def limit_reader(rules: list[tuple[str, int]]) -> Callable[[str, str], int | None]:
    compiled = [(re.compile(pattern), limit) for pattern, limit in rules]

    def limit_for(method: str, path: str) -> int | None:
        if method not in ("POST", "PUT"):
            return None
        return next((limit for pattern, limit in compiled if pattern.fullmatch(path)), None)

    return limit_for


class UploadLimits:
    def __init__(self, app, limit_for: Callable[[str, str], int | None]) -> None:
        self.app, self._limit_for = app, limit_for

    async def __call__(self, scope, receive, send):
        limit = (self._limit_for(scope.get("method", ""), scope.get("path", ""))
                 if scope["type"] == "http" else None)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0

        async def capped_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, capped_receive, send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(error_body("file", f"the upload is larger than the limit of {limit} bytes"),
                        status_code=413)


def install_upload_limits(app: FastAPI, rules: list[tuple[str, int]]) -> None:
    """`rules`: (path pattern, cap in bytes) for the POST/PUT routes that take uploads."""

    async def _handler(_: Request, exc: Exception) -> JSONResponse:
        return _too_large(getattr(exc, "limit", 0))

    app.add_exception_handler(BodyTooLarge, _handler)
    app.add_middleware(UploadLimits, limit_for=limit_reader(rules))
