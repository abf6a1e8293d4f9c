"""Who is calling, the same way in every service (F-4, F-33): a bearer API token names a
user with a role. The dossier service owns the users and answers which user a token is;
other services ask it (token introspection) and guard their routes with the same roles.

Roles: `admin` (everything, users), `manager` (every client), `collector` (only the
clients assigned to their collector), `read_only` (reads every client, changes nothing)."""

import hashlib
from collections.abc import Awaitable, Callable
from enum import StrEnum
from uuid import UUID

from fastapi import Depends, Request
from pydantic import BaseModel

from relance.api.errors import ApiError


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    COLLECTOR = "collector"
    READ_ONLY = "read_only"


WRITERS = (Role.ADMIN, Role.MANAGER, Role.COLLECTOR)


class Principal(BaseModel):
    user_id: UUID
    name: str
    role: Role
    collector_id: UUID | None = None
    # Whose clients a collector may also open, from the dossier's CLIENT_VISIBILITY: None
    # for every client (scope `all`), else these collectors' (none for `own`, the team's
    # for `team`). Lists and agendas still default to the collector's own clients.
    also_sees: frozenset[UUID] | None = frozenset()

    @property
    def actor(self) -> str:
        """How the audit trail names this caller (F-33)."""
        return f"user:{self.name}"

    @property
    def sees_all_clients(self) -> bool:
        return self.role is not Role.COLLECTOR


class Introspection(BaseModel):
    """What the dossier's `GET /auth/introspect` answers about the bearer token of the
    request: the user, their role and how the audit trail names them (F-33)."""

    user_id: UUID
    name: str
    role: Role
    collector_id: UUID | None = None
    actor: str

    @classmethod
    def of(cls, principal: Principal) -> "Introspection":
        return cls(**principal.model_dump(), actor=principal.actor)

    def principal(self) -> Principal:
        return Principal(user_id=self.user_id, name=self.name, role=self.role,
                         collector_id=self.collector_id)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(request: Request) -> str:
    """The request's bearer token, or a 401 saying one is required."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Authorization", "a bearer API token is required")
    return token.strip()


# How a service learns who a token is: the user, or None for an unknown or revoked token.
TokenLookup = Callable[[Request, str], Awaitable[Principal | None]]
# A FastAPI dependency answering the caller (its parameters are FastAPI's to fill).
PrincipalDependency = Callable[..., Awaitable[Principal]]


def authenticated_by(lookup: TokenLookup) -> PrincipalDependency:
    """A dependency answering the caller's Principal, 401 when the token is unknown."""

    async def current_principal(request: Request) -> Principal:
        principal = await lookup(request, bearer_token(request))
        if principal is None:
            raise ApiError(401, "Authorization", "unknown or revoked API token")
        return principal

    # Read by relance.api.openapi: the route declares the bearer scheme and its 401.
    current_principal.__relance_openapi_auth__ = "bearer"  # type: ignore[attr-defined]
    return current_principal


def role_guard(authenticate: PrincipalDependency, *roles: Role) -> PrincipalDependency:
    """A dependency that lets only `roles` through (403 for the others)."""

    async def check(principal: Principal = Depends(authenticate)) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, None, f"role {principal.role.value} may not do this")
        return principal

    # Read by relance.api.openapi: the route declares its 403.
    check.__relance_openapi_roles__ = tuple(roles)  # type: ignore[attr-defined]
    return check
