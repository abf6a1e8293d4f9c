"""Template rendering (F-18, F-32).

Template sources (subject and body) are Jinja2 written by users, so they are rendered
in a sandbox, with strict undefined variables (a typo fails the communication instead of
sending a letter with a hole in it). Before Jinja runs, the product's tags are replaced:
`#items_amount_selected` → `{{ items_amount_selected }}` (the sum of the selected items),
`#items_list_selected` → `{{ items_list_selected }}` (their account statement), and
`#late_interest` / `#recovery_indemnity` → the late-payment interest and the recovery
indemnity owed on the items at send time, per currency (F-38).

Context: `client` (code, name), `contact` (value: the address, phone number or email it
goes to), `items` (the selected items as mappings: number, kind, issue_date, due_date,
amount, open_amount, currency, status, status_comment), `total_open_amount` (Decimal sum
of the items' open amounts), `items_amount_selected` and `items_list_selected` (text),
`late_interest` and `recovery_indemnity` (text), `has_late_fees` (whether any is owed),
`late_fees` (mappings: currency, interest, indemnity), and for internal emails (F-16)
`sender`, `note` and `link_url` (None when absent), and `locale` (the template's: amounts
and dates are written in its language, F-39).
Filters: `money` (`{{ x | money }}`, `{{ x | money("USD") }}`), `date` (also spelled
`date_fr`, its first name) and `status_fr` (an item status in French)."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, pass_context
from jinja2 import Template as JinjaTemplate
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from relance.events import CommunicationItem
from relance_notifier.domain.formatting import (
    DEFAULT_CURRENCY,
    DEFAULT_LOCALE,
    LateFeeLine,
    StatementLine,
    format_amount,
    format_amounts,
    format_date,
    format_statement,
    format_total,
)

TAGS = {
    "#items_amount_selected": "{{ items_amount_selected }}",
    "#items_list_selected": "{{ items_list_selected }}",
    "#late_interest": "{{ late_interest }}",
    "#recovery_indemnity": "{{ recovery_indemnity }}",
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
    locale: str = "fr"  # the language of the text, and of its amounts and dates


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
    env.filters["money"] = _money
    env.filters["date"] = env.filters["date_fr"] = _date
    env.filters["status_fr"] = status_label
    return env


@pass_context
def _money(context: Context, amount: Decimal | int | str, currency: str = DEFAULT_CURRENCY) -> str:
    return format_amount(amount, currency, context.get("locale", DEFAULT_LOCALE))


@pass_context
def _date(context: Context, value: date) -> str:
    return format_date(value, context.get("locale", DEFAULT_LOCALE))


# Item statuses (F-2) as a French reader expects them.
STATUS_LABELS_FR = {
    "dispute": "litige",
    "promise": "promesse de règlement",
    "litigation": "contentieux",
}


def status_label(status: str | None) -> str:
    if not status:
        return ""
    return STATUS_LABELS_FR.get(status, status)


_ENV = _environment()

# The internal interactive email to a colleague (F-16) when no template of that code
# exists: the selected items with their statuses and comments, and the link to them.
INTERNAL_EMAIL_TEMPLATE = Template(
    code="internal-email",
    channel="internal_email",
    subject="Pièces à consulter : {{ client.name }} ({{ client.code }})",
    body=(
        "Bonjour,\n\n"
        "{% if sender %}{{ sender }} vous transmet{% else %}Voici{% endif %} les pièces"
        " suivantes du client {{ client.name }} ({{ client.code }}) :\n\n"
        "{% for item in items %}"
        "- {{ item.number }}, échéance {{ item.due_date | date_fr }},"
        " reste dû {{ item.open_amount | money(item.currency) }}"
        "{% if item.status %}, statut : {{ item.status | status_fr }}{% endif %}"
        "{% if item.status_comment %}, commentaire : {{ item.status_comment }}{% endif %}\n"
        "{% endfor %}\n"
        "Montant total : #items_amount_selected\n"
        "{% if note %}\nMessage : {{ note }}\n{% endif %}"
        "{% if link_url %}\nVoir les pièces, leurs statuts et commentaires : {{ link_url }}\n"
        "{% endif %}"
    ),
)


def build_context(
    *,
    client_code: str,
    client_name: str,
    items: Sequence[CommunicationItem],
    contact_value: str | None = None,
    extra: Mapping[str, Any] | None = None,
    locale: str = DEFAULT_LOCALE,
    late_fees: Sequence[LateFeeLine] = (),
) -> dict[str, Any]:
    lines = [
        StatementLine(i.number, i.due_date, i.open_amount, i.currency) for i in items
    ]
    return {
        "late_interest": format_amounts({f.currency: f.interest for f in late_fees}, locale),
        "recovery_indemnity": format_amounts({f.currency: f.indemnity for f in late_fees}, locale),
        "has_late_fees": any(f.interest or f.indemnity for f in late_fees),
        "late_fees": [
            {"currency": f.currency, "interest": f.interest, "indemnity": f.indemnity}
            for f in late_fees
        ],
        "locale": locale,
        "client": {"code": client_code, "name": client_name},
        "items": [i.model_dump() for i in items],
        "total_open_amount": sum((i.open_amount for i in items), Decimal("0")),
        "items_amount_selected": format_total(lines, locale),
        "items_list_selected": format_statement(lines, locale),
        "contact": {"value": contact_value},
        "sender": None,
        "note": None,
        "link_url": None,
        **(extra or {}),
    }


@lru_cache(maxsize=256)
def _compiled(source: str) -> JinjaTemplate:
    """Compiling a template costs far more than rendering it: a morning batch renders the
    same few templates thousands of times."""
    return _ENV.from_string(expand_tags(source))


def render_source(source: str, context: dict[str, Any]) -> str:
    try:
        return _compiled(source).render(context)
    except Exception as exc:  # noqa: BLE001 - any failure of a user template is the template's
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc


def render(
    template: Template,
    *,
    client_code: str,
    client_name: str,
    items: Sequence[CommunicationItem],
    contact_value: str | None = None,
    extra: Mapping[str, Any] | None = None,
    late_fees: Sequence[LateFeeLine] = (),
) -> RenderedMessage:
    """Render subject and body; the subject is folded onto one line."""
    context = build_context(
        client_code=client_code,
        client_name=client_name,
        items=items,
        contact_value=contact_value,
        extra=extra,
        locale=template.locale,
        late_fees=late_fees,
    )
    subject = " ".join(render_source(template.subject, context).split())
    body = render_source(template.body, context)
    return RenderedMessage(subject=subject, body=body)
