"""The console's pure parts (F-35, F-18, F-39): the session cookie, the tags of the
specific action preview, the French catalog and locale formatting."""

import time
from datetime import date, timedelta
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from relance_console import i18n
from relance_console.api import ApiFailure
from relance_console.pages.admin import parse_steps
from relance_console.pages.clients import render_tags
from relance_console.session import Session, SessionCodec

LOCALE = Path(i18n.__file__).parent / "locale" / "fr" / "LC_MESSAGES"


def _item(number: str, open_amount: str, days_late: int, kind: str = "invoice") -> dict:
    return {"id": number, "number": number, "kind": kind, "open_amount": open_amount, "currency": "EUR",
            "due_date": str(date.today() - timedelta(days=days_late))}


def test_the_session_cookie_is_encrypted_authenticated_and_expires():
    codec = SessionCodec("secret", max_age_seconds=60)
    cookie = codec.dumps(Session(token="rl_secret_token", name="claire", role="collector"))
    assert "rl_secret_token" not in cookie and "claire" not in cookie
    assert codec.loads(cookie).token == "rl_secret_token"
    assert codec.loads(cookie[:-4] + "AAAA") is None  # tampered
    assert SessionCodec("other secret", 60).loads(cookie) is None
    old = codec._fernet.encrypt_at_time(b'{"csrf": "x"}', current_time=int(time.time()) - 120).decode()
    assert codec.loads(old) is None  # older than the session lifetime
    assert SessionCodec("secret", max_age_seconds=600).loads(old).csrf == "x"


def test_f18_the_preview_tags_cover_the_selected_items_only():
    i18n.current_locale.set("fr")
    selected = [_item("F-2", "200.00", 10), _item("F-4", "400.00", 10)]
    text = render_tags("Total : #items_amount_selected\n#items_list_selected", selected)
    assert text.splitlines()[0] == "Total : 600,00\u00a0€"
    assert "F-2" in text and "F-4" in text and "F-1" not in text
    i18n.current_locale.set("en")
    assert render_tags("#items_amount_selected", selected) == "€600.00"


def test_f39_french_by_default_with_its_compiled_catalogs_up_to_date():
    for folder in (LOCALE, LOCALE.parents[1] / "en" / "LC_MESSAGES"):
        po = read_po(open(folder / "messages.po", "rb"))
        mo = read_mo(open(folder / "messages.mo", "rb"))
        assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}, \
            "run pybabel compile -d services/console/src/relance_console/locale"
    assert all(m.string for m in po if m.id), "every message has its French"
    i18n.current_locale.set("fr")
    assert i18n.gettext("Account statement") == "État de compte"
    assert i18n.day("2026-12-01") == "1 déc. 2026"
    i18n.current_locale.set("en")
    assert i18n.gettext("Account statement") == "Account statement"
    assert i18n.gettext("cancellation_pending") == "Cancellation requested"  # API values, in words
    assert i18n.money("1234.5") == "€1,234.50"
    assert i18n.pick_locale(None, None, "fr") == "fr" and i18n.pick_locale("en", None, "fr") == "en"
    assert i18n.pick_locale("de", None, "fr") == "fr"


def test_an_api_refusal_is_given_field_by_field():
    failure = ApiFailure(422, [{"field": "next.due_at", "reason": "bad date"}, {"field": None, "reason": "no"}])
    assert failure.by_field == {"next.due_at": "next.due_at: bad date", "due_at": "bad date",
                                "next": "next.due_at: bad date", "_": "no"}
    assert failure.message == "next.due_at: bad date; no"
    assert ApiFailure(401, [{"field": "Authorization", "reason": "session expired: sign in again"}]).session_expired


def test_f9_scenario_steps_one_a_line():
    assert parse_steps("email; 0; relance-email-1; 2; automatic; Premier\n\ncall;10") == [
        {"action_type": "email", "delay_days": "0", "template_code": "relance-email-1", "priority": "2",
         "mode": "automatic", "label": "Premier"},
        {"action_type": "call", "delay_days": "10"}]


def test_f39_every_message_of_the_code_and_templates_has_its_french():
    from babel.messages.extract import extract_from_dir

    root = Path(i18n.__file__).parent
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = {message for _file, _line, message, _comments, _context in
             extract_from_dir(str(root), method_map, options_map=options, keywords={"_": None, "gettext": None})}
    po = {m.id for m in read_po(open(LOCALE / "messages.po", "rb")) if m.id}
    missing = sorted(m for m in found if isinstance(m, str) and m not in po)
    assert missing == [], "add them to messages.po (pybabel update) and compile"
