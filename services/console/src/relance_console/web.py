"""What every page shares: the request context (session, the user's API clients), the
templates, CSRF checking and the answers for a redirect or a form with errors."""

import hmac
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask

from relance_console import i18n
from relance_console.api import Api
from relance_console.session import CSRF_FIELD, CSRF_HEADER, Session
from relance_console.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"

templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, extensions=["jinja2.ext.i18n"]))
templates.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
templates.env.filters.update(money=i18n.money, day=i18n.day, moment=i18n.moment, number=i18n.number)
_ = i18n.gettext


class NotSignedIn(Exception):
    pass


class CsrfRefused(Exception):
    pass


@dataclass
class Ctx:
    request: Request
    session: Session
    settings: Settings
    dossier: Api
    gateway: Api

    @property
    def page_size(self) -> int:
        return self.settings.page_size


def session_of(request: Request) -> Session:
    return request.state.session


def save_session(request: Request, session: Session) -> None:
    request.state.session = session
    request.state.session_dirty = True


def _ctx(request: Request) -> Ctx:
    settings: Settings = request.app.state.settings
    session = session_of(request)
    http: httpx.AsyncClient = request.app.state.http
    return Ctx(request, session, settings, Api(http, settings.dossier_api_url, session.token),
               Api(http, settings.gateway_api_url, session.token))


async def signed_in(request: Request) -> Ctx:
    """Every page but sign-in needs a signed-in user; a form post also needs its CSRF token."""
    session = session_of(request)
    if not session.signed_in:
        raise NotSignedIn
    if session.expires_at is not None and session.expires_at <= time.time():
        raise NotSignedIn("expired")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        await check_csrf(request)
    return _ctx(request)


async def check_csrf(request: Request) -> None:
    expected = session_of(request).csrf
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await request.form()).get(CSRF_FIELD)
    if not sent or not hmac.compare_digest(str(sent), expected):
        raise CsrfRefused


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(ctx_or_request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    request = ctx_or_request.request if isinstance(ctx_or_request, Ctx) else ctx_or_request
    if template == "error.html" and is_htmx(request):
        template = "_error.html"  # inside the block that asked, not a whole page
    session = session_of(request)
    flash = session.flash
    if flash:
        session.flash = None
        save_session(request, session)
    context = {
        "request": request, "session": session, "csrf": session.csrf, "csrf_field": CSRF_FIELD,
        "locale": i18n.current_locale.get(), "flash": flash, "errors": {}, "values": {}, **values,
    }
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def redirect(request: Request, url: str, flash: str | None = None) -> Response:
    if flash:
        session = session_of(request)
        session.flash = flash
        save_session(request, session)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target if request.method == "GET" else "/", safe="/")


def form_values(form) -> dict[str, Any]:
    """What the user typed, to fill the form again after an error (never the CSRF token
    nor a password)."""
    values: dict[str, Any] = {}
    for key in form.keys():
        if key in (CSRF_FIELD, "password"):
            continue
        found = form.getlist(key)
        values[key] = found if len(found) > 1 else found[0]
    return values


def pages(total_or_more: int | bool, page: int, size: int) -> dict[str, Any]:
    """Pagination links: `total_or_more` is a total count, or True when one more row than
    the page size came back."""
    if isinstance(total_or_more, bool):
        has_next = total_or_more
        last = None
    else:
        last = max(1, -(-total_or_more // size))
        has_next = page < last
    return {"page": page, "has_prev": page > 1, "has_next": has_next, "last": last}


def streamed(response) -> StreamingResponse:
    """The API's export passed on as it comes, with its type and file name (F-40)."""
    headers = {k: v for k, v in response.headers.items()
               if k.lower() in ("content-type", "content-disposition")}
    return StreamingResponse(response.aiter_bytes(), headers=headers, background=BackgroundTask(response.aclose))
