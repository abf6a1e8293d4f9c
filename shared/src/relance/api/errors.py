"""Every 4xx names the field at fault and the reason, in one shape:
`{"errors": [{"field": "items.0.amount", "reason": "..."}]}`. Every service installs the
same handlers, so a caller reads the dossier's and the gateway's errors alike."""

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class ApiError(Exception):
    def __init__(self, status_code: int, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.field = field
        self.reason = reason


def error_body(field: str | None, reason: str) -> dict:
    return {"errors": [{"field": field, "reason": reason}]}


def install_error_handlers(
    app: FastAPI, field_errors: tuple[type[Exception], ...] = ()
) -> None:
    """The shared handlers; `field_errors` are a service's own rule violations (exceptions
    with `field` and `reason`), answered 422."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                # loc starts with where the value came from (body, query, path, header).
                "field": ".".join(str(p) for p in err["loc"][1:]) or None,
                "reason": err["msg"],
            }
            for err in exc.errors()
        ]
        return JSONResponse({"errors": errors}, status_code=422)

    async def _field_error(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(getattr(exc, "field", None), getattr(exc, "reason", str(exc))),
                            status_code=422)

    for error_type in field_errors:
        app.add_exception_handler(error_type, _field_error)

    @app.exception_handler(asyncpg.DataError)
    async def _data(_: Request, exc: asyncpg.DataError) -> JSONResponse:
        # A value the database refuses (bad encoding, out of range): the transaction has
        # rolled back; say so instead of a 500.
        return JSONResponse(error_body(None, f"value refused by the database: {exc}"), status_code=422)

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(error_body(exc.field, exc.reason), status_code=exc.status_code,
                            headers=headers)
