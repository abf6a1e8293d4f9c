"""Template rendering: tags, context, sandbox and strictness (F-18, F-32)."""

from datetime import date
from decimal import Decimal

import pytest

from relance.events import CommunicationItem
from relance_notifier.domain.formatting import NBSP
from relance_notifier.domain.rendering import (
    Template,
    TemplateRenderError,
    expand_tags,
    render,
)


def item(number: str, due: date, open_amount: str, amount: str | None = None) -> CommunicationItem:
    return CommunicationItem(
        number=number,
        kind="invoice",
        due_date=due,
        amount=Decimal(amount or open_amount),
        open_amount=Decimal(open_amount),
        currency="EUR",
    )


ITEMS = [
    item("FA-001", date(2025, 1, 15), "1000.25", "1500"),
    item("FA-002", date(2025, 2, 15), "234.25"),
]


def render_text(subject: str, body: str, items=ITEMS):
    message = render(
        Template(code="t", channel="email", subject=subject, body=body),
        client_code="C001",
        client_name="ACME SARL",
        items=items,
    )
    return message.subject.replace(NBSP, " "), message.body.replace(NBSP, " ")


def test_f18_tags_become_jinja_expressions() -> None:
    assert expand_tags("Total #items_amount_selected.\n#items_list_selected") == (
        "Total {{ items_amount_selected }}.\n{{ items_list_selected }}"
    )


def test_f18_a_longer_word_is_not_taken_for_a_tag() -> None:
    assert expand_tags("#items_amount_selected_x #items_list_selectedly") == (
        "#items_amount_selected_x #items_list_selectedly"
    )


def test_f18_amount_tag_is_the_sum_of_the_selected_items() -> None:
    subject, body = render_text("Relance {{ client.code }}", "Vous devez #items_amount_selected.")
    assert subject == "Relance C001"
    assert body == "Vous devez 1 234,50 €."


def test_f18_list_tag_is_the_statement_of_the_selected_items_only() -> None:
    _, body = render_text("s", "#items_list_selected", items=ITEMS[:1])
    assert "FA-001" in body and "15/01/2025" in body and "1 000,25 €" in body
    assert "FA-002" not in body
    assert body.splitlines()[-1].endswith("1 000,25 €")


def test_f32_context_has_client_items_and_total() -> None:
    _, body = render_text(
        "s",
        "{{ client.name }}:{% for i in items %} {{ i.number }}={{ i.open_amount | money }}"
        " due {{ i.due_date | date_fr }};{% endfor %} total={{ total_open_amount | money }}",
    )
    assert body == (
        "ACME SARL: FA-001=1 000,25 € due 15/01/2025; FA-002=234,25 € due 15/02/2025;"
        " total=1 234,50 €"
    )


def test_f18_an_english_template_writes_amounts_and_dates_the_english_way() -> None:
    message = render(
        Template(code="t", channel="email", subject="s", locale="en-GB",
                 body="{% for i in items %}{{ i.number }} {{ i.open_amount | money }} due {{ i.due_date | date }};"
                      "{% endfor %} total #items_amount_selected"),
        client_code="C001", client_name="ACME Ltd", items=ITEMS,
    )
    assert message.body == "FA-001 €1,000.25 due 15/01/2025;FA-002 €234.25 due 15/02/2025; total €1,234.50"


def test_f32_subject_is_folded_onto_one_line() -> None:
    subject, _ = render_text("Relance\n  {{ client.name }}\n", "b")
    assert subject == "Relance ACME SARL"


def test_f32_unknown_variable_fails_instead_of_leaving_a_hole() -> None:
    with pytest.raises(TemplateRenderError):
        render_text("s", "Bonjour {{ client.nmae }}")


def test_f32_syntax_error_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError):
        render_text("s", "{% for %}")


def test_f32_templates_run_in_a_sandbox() -> None:
    with pytest.raises(TemplateRenderError):
        render_text("s", "{{ items.__class__.__mro__ }}")
    with pytest.raises(TemplateRenderError):
        render_text("s", "{{ ''.__class__.__subclasses__() }}")


def test_f32_user_text_is_not_html_escaped_in_plain_text() -> None:
    message = render(
        Template(code="t", channel="email", subject="s", body="{{ client.name }}"),
        client_code="C", client_name="Dupont & Fils <SA>", items=[],
    )
    assert message.body == "Dupont & Fils <SA>"
