"""Token introspection (F-4, F-33): the dossier service owns the users and their API
tokens; the platform's other services (the transfer gateway's admin API) ask here who the
bearer token of a request belongs to, instead of reading the users table."""

from fastapi import APIRouter, Depends

from relance.api.auth import Introspection, Principal
from relance_dossier.api.auth import can_read

router = APIRouter(prefix="/auth", tags=["users"])


@router.get("/introspect", response_model=Introspection,
            summary="Who the bearer token belongs to: user, role, audit actor (401 if unknown)")
async def introspect(principal: Principal = Depends(can_read)) -> Introspection:
    return Introspection.of(principal)
