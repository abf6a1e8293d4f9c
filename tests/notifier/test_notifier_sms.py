"""The SMS channel against a real HTTP server on 127.0.0.1 standing for the provider
(F-32): request shape, bearer token, idempotency key, and how answers map to delivered /
permanent / transient."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import UUID

import pytest

from relance_notifier.channels.base import OutgoingMessage, PermanentSendError, TransientSendError
from relance_notifier.channels.sms import SmsChannel, classify_http_status, normalise_phone
from relance_notifier.settings import Settings

CID = UUID("12345678-1234-5678-1234-567812345678")


class Provider:
    def __init__(self) -> None:
        self.requests: list[tuple[dict, dict]] = []
        self.status = 202
        self.delay = 0.0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.requests.append((dict(self.headers), body))
                time.sleep(provider.delay)
                answer = json.dumps({"id": "prov-42"}).encode()
                try:
                    self.send_response(provider.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (timeout test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    thread = threading.Thread(target=p.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield p
    p.server.shutdown()
    p.server.server_close()


def channel(url: str, **overrides) -> SmsChannel:
    settings = Settings(sms_provider_url=url, sms_provider_token="secret-token",
                        sms_sender="ACME", sms_timeout_seconds=1.0, sms_rate_per_second=0,
                        **overrides)
    return SmsChannel(settings)


MESSAGE = OutgoingMessage(CID, "+33 6 12-34.56 78", "ignored subject",
                          "Votre solde : 1 234,50 €\n")


async def test_f32_sms_is_posted_as_json_with_bearer_token_and_idempotency_key(provider) -> None:
    sms = channel(provider.url)
    result = await sms.send(MESSAGE)
    await sms.aclose()
    assert result.provider_ref == "prov-42"
    headers, body = provider.requests[0]
    assert headers["Authorization"] == "Bearer secret-token"
    assert headers["Idempotency-Key"] == str(CID)
    assert body == {"to": "+33612345678", "from": "ACME", "text": "Votre solde : 1 234,50 €",
                    "reference": str(CID)}


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, PermanentSendError), (422, PermanentSendError), (404, PermanentSendError),
     (500, TransientSendError), (503, TransientSendError), (429, TransientSendError),
     (401, TransientSendError), (408, TransientSendError)],
)
async def test_f32_provider_refusals_are_permanent_and_outages_transient(
    provider, status: int, kind: type
) -> None:
    provider.status = status
    sms = channel(provider.url)
    with pytest.raises(kind, match=f"HTTP {status}"):
        await sms.send(MESSAGE)
    await sms.aclose()


async def test_f32_a_provider_that_does_not_answer_in_time_is_transient(provider) -> None:
    provider.delay = 1.5
    sms = channel(provider.url)
    with pytest.raises(TransientSendError, match="Timeout"):
        await sms.send(MESSAGE)
    await sms.aclose()


async def test_f32_an_unreachable_provider_is_transient(provider) -> None:
    url = provider.url
    provider.server.shutdown()
    provider.server.server_close()
    sms = channel(url)
    with pytest.raises(TransientSendError, match="ConnectError"):
        await sms.send(MESSAGE)
    await sms.aclose()


def test_f32_phone_numbers_are_normalised_or_refused() -> None:
    assert normalise_phone("06 12 34 56 78") == "+33612345678"  # E.164, read in France
    assert normalise_phone("0033 (6) 12.34.56.78") == "+33612345678"
    with pytest.raises(PermanentSendError):
        normalise_phone("appeler le standard")
    with pytest.raises(PermanentSendError):
        normalise_phone("12")


def test_f32_2xx_is_delivered() -> None:
    assert classify_http_status(200, "") is None
    assert classify_http_status(202, "") is None


def test_f32_sms_channel_needs_a_provider_url() -> None:
    with pytest.raises(ValueError, match="SMS_PROVIDER_URL"):
        SmsChannel(Settings(sms_provider_url=None))
