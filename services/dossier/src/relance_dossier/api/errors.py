"""Every 4xx names the field at fault and the reason, in one shape:
`{"errors": [{"field": "items.0.amount", "reason": "..."}]}`."""

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from relance_dossier.domain.accounts import DomainError


class ApiError(Exception):
    def __init__(self, status_code: int, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.field = field
        self.reason = reason


def _body(field: str | None, reason: str) -> dict:
    return {"errors": [{"field": field, "reason": reason}]}


def install_error_handlers(app: FastAPI) -> None:
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

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(_body(exc.field, exc.reason), status_code=422)

    @app.exception_handler(asyncpg.DataError)
    async def _data(_: Request, exc: asyncpg.DataError) -> JSONResponse:
        # A value the database refuses (bad encoding, out of range): the transaction has
        # rolled back; say so instead of a 500.
        return JSONResponse(_body(None, f"value refused by the database: {exc}"), status_code=422)

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(_body(exc.field, exc.reason), status_code=exc.status_code, headers=headers)
