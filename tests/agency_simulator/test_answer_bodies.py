"""The simulator keeps answering the gateway through its faults: a 5xx with a plain-text
body (a server going down, a proxy) is tried again, not a crash of the answer task (the
chaos run found a cancellation validation given up on such a 500)."""

import httpx

from relance_agency_simulator.app import _body


def test_a_plain_text_error_body_is_kept_as_text() -> None:
    assert _body(httpx.Response(500, text="Internal Server Error")) == "Internal Server Error"
    assert _body(httpx.Response(200, json={"status": "acknowledged"})) == {"status": "acknowledged"}
    assert _body(httpx.Response(204)) is None
