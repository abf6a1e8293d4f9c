"""The collectors' web console (F-35): a backend-for-frontend over the dossier API and the
gateway's admin API. It owns no business table: the pages are rendered from the APIs'
answers, fetched with the signed-in user's own token."""

import logging
import time
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from relance.observability import add_health_and_metrics
from relance_console import i18n
from relance_console.api import Api, ApiFailure, Unreachable
from relance_console.pages import admin, agenda, clients, kpis, payment_plans, search, transfers
from relance_console.session import COOKIE, Session, SessionCodec
from relance_console.settings import Settings
from relance_console.web import (
    CsrfRefused,
    NotSignedIn,
    _,
    check_csrf,
    is_htmx,
    login_url,
    redirect,
    render,
    save_session,
    session_of,
)

log = logging.getLogger("relance_console")
STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings) -> FastAPI:
    codec = SessionCodec(settings.session_secret, settings.session_hours * 3600)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.http = httpx.AsyncClient(timeout=settings.api_timeout_seconds)
        try:
            yield
        finally:
            await app.state.http.aclose()

    app = FastAPI(title="Relance console", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings = settings

    @app.middleware("http")
    async def session_and_locale(request: Request, call_next):
        request.state.session = codec.loads(request.cookies.get(COOKIE)) or Session()
        request.state.session_dirty = COOKIE not in request.cookies
        i18n.current_locale.set(i18n.pick_locale(request.cookies.get(i18n.LANG_COOKIE), None,
                                                 settings.default_locale))
        i18n.current_timezone.set(settings.timezone)
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        else:  # pages hold personal data: never kept by the browser or a proxy
            response.headers.setdefault("Cache-Control", "no-store")
        if request.state.session_dirty:
            response.set_cookie(COOKIE, codec.dumps(request.state.session), httponly=True,
                                samesite="lax", secure=settings.cookie_secure,
                                max_age=int(settings.session_hours * 3600))
        return response

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, exc: NotSignedIn):
        if exc.args and exc.args[0] == "expired":
            return _expired(request)
        return redirect(request, login_url(request))

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused):
        return render(request, "error.html", 403, title=_("Form refused"),
                      message=_("This form has expired or did not come from this console. "
                                "Reload the page and try again."))

    @app.exception_handler(ApiFailure)
    async def _api_failure(request: Request, exc: ApiFailure):
        if exc.status == 401:
            if exc.session_expired:
                return _expired(request)
            save_session(request, Session())
            return redirect(request, login_url(request))
        if exc.status == 403:
            return render(request, "error.html", 403, title=_("Not allowed"),
                          message=_("Your role does not allow this."))
        if exc.status == 404:
            return render(request, "error.html", 404, title=_("Not found"),
                          message=_("Nothing here, or nothing you may see."))
        return render(request, "error.html", exc.status if 400 <= exc.status < 600 else 502,
                      title=_("Refused"), message=exc.message)

    @app.exception_handler(Unreachable)
    async def _unreachable(request: Request, exc: Unreachable):
        log.warning("api unreachable: %s", exc)
        return render(request, "error.html", 502, title=_("Service unavailable"),
                      message=_("The Relance API does not answer. Try again in a moment."))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return render(request, "error.html", 404, title=_("Not found"),
                          message=_("Nothing here, or nothing you may see."))
        return render(request, "error.html", exc.status_code, title=_("Refused"), message=str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return render(request, "error.html", 500, title=_("Something went wrong"),
                      message=_("The page could not be shown. The error has been logged."))

    def _expired(request: Request) -> Response:
        save_session(request, Session())
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": "/expired"})
        return render(request, "expired.html", 401)

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    # /health and /metrics as every Relance process serves them (Prometheus scrapes it too).
    add_health_and_metrics(app, {})

    @app.get("/login")
    async def login_page(request: Request, next: str = "/"):
        if session_of(request).signed_in:
            return redirect(request, _safe_next(next))
        return render(request, "login.html", next=_safe_next(next))

    @app.post("/login")
    async def login(request: Request):
        await check_csrf(request)
        form = await request.form()
        username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        target = _safe_next(str(form.get("next") or "/"))
        api = Api(request.app.state.http, settings.dossier_api_url, None)
        try:
            answer = await api.post("/auth/sessions", json={"username": username, "password": password})
        except ApiFailure as failure:
            if failure.status in (401, 422):
                return render(request, "login.html", 401, next=target, values={"username": username},
                              error=_("Unknown user name or wrong password."))
            raise
        me = await Api(request.app.state.http, settings.dossier_api_url, answer["token"]).get("/users/me")
        expires = datetime.fromisoformat(answer["expires_at"]).timestamp()
        save_session(request, Session(token=answer["token"], user_id=answer["user_id"], name=answer["name"],
                                      role=answer["role"], collector_code=me.get("collector_code"),
                                      expires_at=expires))
        return redirect(request, target)

    @app.post("/logout")
    async def logout(request: Request):
        await check_csrf(request)
        session = session_of(request)
        if session.token:
            try:
                await Api(request.app.state.http, settings.dossier_api_url, session.token).delete(
                    "/auth/sessions/current")
            except (ApiFailure, Unreachable):
                pass  # signed out here whatever the API says
        save_session(request, Session())
        return redirect(request, "/login")

    @app.get("/expired")
    async def expired_page(request: Request):
        return render(request, "expired.html", 401)

    @app.get("/lang/{locale}")
    async def switch_language(request: Request, locale: str, next: str = "/"):
        response = redirect(request, _safe_next(next))
        if locale in i18n.LOCALES:
            response.set_cookie(i18n.LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax",
                                secure=settings.cookie_secure, httponly=True)
        return response

    @app.get("/")
    async def home(request: Request):
        return redirect(request, "/agenda")

    for module in (agenda, search, clients, payment_plans, transfers, admin, kpis):
        app.include_router(module.router)
    return app


def _safe_next(target: str) -> str:
    """Only a path of this console, never another site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
