"""Users with roles and API tokens (F-4, F-33): an admin creates them (the token is shown
once, only its hash is kept), lists them and deactivates them."""

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from relance.api.auth import Principal, Role
from relance.api.errors import ApiError
from relance.validation import EmailAddress
from relance_dossier.api.auth import admin_only, can_read, create_user, db_pool, hash_password, new_token
from relance_dossier.api.models import ApiInput
from relance_dossier.persistence import collectors as collector_store
from relance_dossier.persistence import users as store
from relance_dossier.persistence.clients import record_audit

router = APIRouter(prefix="/users", tags=["users"])


class UserIn(ApiInput):
    name: str = Field(min_length=1, max_length=200)
    email: EmailAddress | None = None
    role: Role
    collector_code: str | None = Field(
        default=None, max_length=100,
        description="F-4: the collector this user works as; required for the collector role",
    )
    password: str | None = Field(
        default=None, min_length=8, max_length=200,
        description="Lets the user sign in with their name (the console); only its argon2 hash is kept",
    )


class PasswordIn(ApiInput):
    password: str = Field(min_length=8, max_length=200)


class UserOut(BaseModel):
    id: UUID
    name: str
    email: str | None
    role: Role
    collector_code: str | None
    active: bool
    created_at: datetime
    has_password: bool = False


class CreatedUser(UserOut):
    token: str = Field(description="The API token: shown this once, only its hash is stored")


class Me(BaseModel):
    user_id: UUID
    name: str
    role: Role
    collector_code: str | None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedUser,
             summary="Create a user with a role and an optional collector link (F-4)")
async def create(body: UserIn, request: Request, principal: Principal = Depends(admin_only)) -> CreatedUser:
    if body.role is Role.COLLECTOR and body.collector_code is None:
        # A collector user sees only their collector's clients: without a link, nothing.
        raise ApiError(422, "collector_code", "required for a user with the collector role")
    token = new_token()
    password_hash = await hash_password(body.password) if body.password else None
    async with db_pool(request).acquire() as conn, conn.transaction():
        collector_id = None
        if body.collector_code is not None:
            collector = await collector_store.collector_by_code(conn, body.collector_code)
            if collector is None:
                raise ApiError(422, "collector_code", f"no collector with code {body.collector_code!r}")
            collector_id = collector["id"]
        user_id = await create_user(conn, name=body.name, role=body.role, token=token,
                                    email=body.email, collector_id=collector_id,
                                    password_hash=password_hash)
        await record_audit(conn, client_id=None, actor=principal.actor, action="create", entity="user",
                           entity_id=str(user_id), details={"role": body.role.value,
                                                            "collector_code": body.collector_code})
        user = await store.user_by_id(conn, user_id)
    return CreatedUser(**dict(user), token=token)


@router.get("", response_model=list[UserOut], summary="Every user (deactivated ones on request)")
async def list_users(
    request: Request, include_inactive: bool = False, principal: Principal = Depends(admin_only)
) -> list[UserOut]:
    async with db_pool(request).acquire() as conn:
        return [UserOut(**dict(u)) for u in await store.list_users(conn, include_inactive=include_inactive)]


@router.get("/me", response_model=Me, summary="Who the token belongs to, and its collector (F-4)")
async def me(request: Request, principal: Principal = Depends(can_read)) -> Me:
    async with db_pool(request).acquire() as conn:
        user = await store.user_by_id(conn, principal.user_id)
    return Me(user_id=principal.user_id, name=principal.name, role=principal.role,
              collector_code=user["collector_code"])


@router.post("/{user_id}/deactivate", response_model=UserOut,
             summary="Deactivate a user: their token stops working at once")
async def deactivate(user_id: UUID, request: Request, principal: Principal = Depends(admin_only)) -> UserOut:
    if user_id == principal.user_id:
        raise ApiError(422, "user_id", "an admin cannot deactivate their own account")
    async with db_pool(request).acquire() as conn, conn.transaction():
        if not await store.deactivate_user(conn, user_id):
            raise ApiError(404, "user_id", f"no user with id {user_id}")
        await record_audit(conn, client_id=None, actor=principal.actor, action="deactivate",
                           entity="user", entity_id=str(user_id))
        return UserOut(**dict(await store.user_by_id(conn, user_id)))


@router.put("/{user_id}/password", response_model=UserOut,
            summary="Set a user's password (signing in with their name); their sessions end")
async def set_password(user_id: UUID, body: PasswordIn, request: Request,
                       principal: Principal = Depends(admin_only)) -> UserOut:
    password_hash = await hash_password(body.password)
    async with db_pool(request).acquire() as conn, conn.transaction():
        if not await store.set_password_hash(conn, user_id, password_hash):
            raise ApiError(404, "user_id", f"no user with id {user_id}")
        await record_audit(conn, client_id=None, actor=principal.actor, action="set_password",
                           entity="user", entity_id=str(user_id))
        return UserOut(**dict(await store.user_by_id(conn, user_id)))
