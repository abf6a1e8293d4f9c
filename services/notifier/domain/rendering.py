"""Template rendering (F-18, F-32).

Template sources (subject and body) are Jinja2 written by users, so they are rendered
in a sandbox, with strict undefined variables (a typo fails the communication instead of
sending a letter with a hole in it). Before Jinja runs, the product's tags are replaced:
`#items_amount_selected` → `{{ items_amount_selected }}` (the sum of the selected items)
and `#items_list_selected` → `{{ items_list_selected }}` (their account statement).

Context: `client` (code, name), `items` (the selected items as mappings: number, kind,
issue_date, due_date, amount, open_amount, currency), `total_open_amount` (Decimal sum
of the items' open amounts), `items_amount_selected` and `items_list_selected` (text).
Filters: `money` (`{{ x | money }}`, `{{ x | money("USD") }}`) and `date_fr`."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from relance.events import CommunicationItem
from relance_notifier.domain.formatting import (
    StatementLine,
    format_amount,
    format_date,
    format_statement,
    format_total,
)

TAGS = {
    "#items_amount_selected": "{{ items_amount_selected }}",
    "#items_list_selected": "{{ items_list_selected }}",
}
_TAG_PATTERN = re.compile(
    "|".join(re.escape(tag) + r"(?![A-Za-z0-9_])" for tag in sorted(TAGS, key=len, reverse=True))
)


@dataclass(frozen=True)
class Template:
    code: str
    channel: str
    subject: str
    body: str
    locale: str = "fr"


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str


class TemplateRenderError(Exception):
    """The template cannot be rendered (syntax error, unknown variable, forbidden access)."""


def expand_tags(source: str) -> str:
    """Replace the product's `#tags` by the Jinja expressions they stand for."""
    return _TAG_PATTERN.sub(lambda match: TAGS[match.group(0)], source)


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters["money"] = format_amount
    env.filters["date_fr"] = format_date
    return env


_ENV = _environment()


def build_context(
    *, client_code: str, client_name: str, items: Sequence[CommunicationItem]
) -> dict[str, Any]:
    lines = [
        StatementLine(i.number, i.due_date, i.open_amount, i.currency) for i in items
    ]
    return {
        "client": {"code": client_code, "name": client_name},
        "items": [i.model_dump() for i in items],
        "total_open_amount": sum((i.open_amount for i in items), Decimal("0")),
        "items_amount_selected": format_total(lines),
        "items_list_selected": format_statement(lines),
    }


def render_source(source: str, context: dict[str, Any]) -> str:
    try:
        return _ENV.from_string(expand_tags(source)).render(context)
    except Exception as exc:  # noqa: BLE001 - any failure of a user template is the template's
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc


def render(
    template: Template,
    *,
    client_code: str,
    client_name: str,
    items: Sequence[CommunicationItem],
) -> RenderedMessage:
    """Render subject and body; the subject is folded onto one line."""
    context = build_context(client_code=client_code, client_name=client_name, items=items)
    subject = " ".join(render_source(template.subject, context).split())
    body = render_source(template.body, context)
    return RenderedMessage(subject=subject, body=body)
