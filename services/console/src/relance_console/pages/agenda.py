"""The agenda, a collector's home (F-8, F-14, F-19), and action management (F-14): the
actions due (scenario interventions, specific actions, promises), sortable by priority,
date, client or collector, a page at a time."""

from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends

from relance_console.api import ApiFailure
from relance_console.web import Ctx, pages, render, signed_in, streamed

router = APIRouter()
SORTS = ("date", "priority", "client", "collector")


def _page(page: int) -> int:
    return max(1, page)


def end_of_today(timezone: str) -> str:
    zone = ZoneInfo(timezone)
    return datetime.combine(datetime.now(zone).date() + timedelta(days=1), time.min, zone).isoformat()


@router.get("/agenda")
async def agenda(ctx: Ctx = Depends(signed_in), collector: str | None = None, sort: str = "date",
                 desc: bool = False, page: int = 1, when: str = "today"):
    """Overdue and today's actions by default; `when=all` adds the ones to come."""
    when = when if when in ("today", "all") else "today"
    sort = sort if sort in SORTS else "date"
    page, size = _page(page), ctx.page_size
    collectors = await ctx.dossier.get("/collectors") if ctx.session.is_manager else []
    if collector is None and not ctx.session.collector_code and collectors:
        collector = collectors[0]["code"]  # a manager picks any collector (F-14)
    params = {"sort": sort, "desc": str(desc).lower(), "limit": size + 1, "offset": (page - 1) * size}
    if collector:
        params["collector"] = collector
    if when == "today":
        params["due_before"] = end_of_today(ctx.settings.timezone)
    problem = None
    try:
        rows = await ctx.dossier.get("/agenda", params=params)
    except ApiFailure as failure:
        if failure.status != 422:
            raise
        rows, problem = [], failure.message
    query = {k: v for k, v in {"collector": collector, "sort": sort, "desc": str(desc).lower(),
                                "when": when}.items() if v}
    return render(ctx, "agenda.html", rows=rows[:size], pager=pages(len(rows) > size, page, size),
                  base_url="/agenda?" + urlencode(query) + "&", collectors=collectors,
                  collector=collector or ctx.session.collector_code, sort=sort, desc=desc, problem=problem,
                  sorts=SORTS, when=when)


@router.get("/agenda.{fmt}")
async def agenda_export(fmt: str, ctx: Ctx = Depends(signed_in), collector: str | None = None,
                        sort: str = "date", desc: bool = False, when: str = "today"):
    """F-40: the agenda as shown (its collector, order and days), as one CSV or XLSX file."""
    params = {"format": fmt, "sort": sort if sort in SORTS else "date", "desc": str(desc).lower()}
    if collector:
        params["collector"] = collector
    if when != "all":
        params["due_before"] = end_of_today(ctx.settings.timezone)
    return streamed(await ctx.dossier.stream("/agenda/export", params=params))


@router.get("/actions")
async def actions(ctx: Ctx = Depends(signed_in), collector: str | None = None, client: str | None = None,
                  action_type: str | None = None, kind: str | None = None, sort: str = "priority",
                  desc: bool = False, page: int = 1):
    sort = sort if sort in SORTS else "priority"
    page, size = _page(page), ctx.page_size
    filters = {"collector": collector or None, "client": client or None,
               "action_type": action_type or None, "kind": kind or None}
    params = {k: v for k, v in filters.items() if v}
    errors = {}
    try:
        rows = await ctx.dossier.get("/actions", params={
            **params, "sort": sort, "desc": str(desc).lower(), "limit": size + 1, "offset": (page - 1) * size})
    except ApiFailure as failure:
        if failure.status != 422:
            raise
        rows, errors = [], failure.by_field
    collectors = await ctx.dossier.get("/collectors")
    query = {**params, "sort": sort, "desc": str(desc).lower()}
    return render(ctx, "actions.html", rows=rows[:size], pager=pages(len(rows) > size, page, size),
                  base_url="/actions?" + urlencode(query) + "&", collectors=collectors, values=params,
                  errors=errors, sort=sort, desc=desc, sorts=SORTS, query=params)
