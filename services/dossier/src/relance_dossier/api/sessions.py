"""Signing in with a user name and password (F-4, F-35): the answer is a bearer token for
that user, valid for SESSION_HOURS or until signed out. The console signs its users in
this way and then calls the API with their own token, so it never sees or does more than
they may."""

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from relance.api.auth import Principal, Role, token_sha256
from relance.api.errors import ApiError
from relance_dossier.api.auth import can_read, db_pool, open_session, password_matches
from relance_dossier.api.models import ApiInput
from relance_dossier.persistence import users as store

router = APIRouter(prefix="/auth", tags=["users"])


class SignIn(ApiInput):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer …`")
    expires_at: datetime
    user_id: str
    name: str
    role: Role


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut,
             summary="Sign in with a user name and password: a bearer token for that user")
async def sign_in(body: SignIn, request: Request) -> SessionOut:
    async with db_pool(request).acquire() as conn:
        candidates = await store.users_signing_in(conn, body.username)
        for candidate in candidates or [None]:
            if await password_matches(candidate["password_hash"] if candidate else None, body.password):
                lifetime = timedelta(hours=request.app.state.settings.session_hours)
                token, expires_at = await open_session(conn, candidate["id"], lifetime)
                user = await store.user_by_id(conn, candidate["id"])
                assert user is not None  # its password just matched, in this transaction
                return SessionOut(token=token, expires_at=expires_at, user_id=str(user["id"]),
                                  name=user["name"], role=Role(user["role"]))
    raise ApiError(401, "password", "unknown user name or wrong password")


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT,
               summary="Sign out: the session's token stops working at once")
async def sign_out(request: Request, principal: Principal = Depends(can_read)) -> None:
    _, _, token = request.headers.get("authorization", "").partition(" ")
    async with db_pool(request).acquire() as conn:
        await conn.execute("DELETE FROM user_sessions WHERE token_sha256 = $1", token_sha256(token.strip()))
