"""The SMS channel: an HTTP provider adapter (F-32).

One JSON POST per message to SMS_PROVIDER_URL with `Authorization: Bearer
SMS_PROVIDER_TOKEN`; the communication id goes as `reference` and as the
`Idempotency-Key` header, so a provider that deduplicates never sends a redelivered
message twice. The provider's answer decides what happens next:
2xx delivered to the provider; 5xx, 408, 429, timeouts and network errors transient
(retried); 401/403 our own configuration (transient: a fixed token and a redelivery get
the message through); any other 4xx permanent (the provider refuses this message)."""

import time

import httpx
from opentelemetry.trace import SpanKind

from relance.observability import traced
from relance.validation import InvalidPhoneNumber, to_e164
from relance_notifier.channels.base import (
    OutgoingMessage,
    PermanentSendError,
    SendError,
    SendResult,
    TransientSendError,
)
from relance_notifier.channels.ratelimit import RateLimiter
from relance_notifier.metrics import SEND_SECONDS
from relance_notifier.settings import Settings

TRANSIENT_CLIENT_STATUSES = frozenset({401, 403, 408, 425, 429})


def normalise_phone(value: str) -> str:
    """The E.164 form the provider expects: "06 12 34 56 78" and "+33 6 12-34.56 78" →
    "+33612345678"; PermanentSendError if it is no valid number."""
    try:
        return to_e164(value)
    except InvalidPhoneNumber as exc:
        raise PermanentSendError(str(exc)) from None


def sms_request_body(message: OutgoingMessage, *, sender: str) -> dict[str, str]:
    return {
        "to": normalise_phone(message.recipient),
        "from": sender,
        "text": message.body.strip(),
        "reference": str(message.communication_id),
    }


def classify_http_status(status: int, detail: str) -> SendError | None:
    """None for a 2xx answer, else the error it stands for."""
    if 200 <= status < 300:
        return None
    text = f"HTTP {status}: {detail}"[:500]
    if status >= 500 or status in TRANSIENT_CLIENT_STATUSES:
        return TransientSendError(text)
    return PermanentSendError(text)


def provider_reference(response: httpx.Response) -> str | None:
    """The provider's message id when its answer carries one (`id` or `message_id`)."""
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        ref = data.get("id") or data.get("message_id")
        return str(ref) if ref is not None else None
    return None


class SmsChannel:
    name = "sms"

    def __init__(self, settings: Settings, *, client: httpx.AsyncClient | None = None) -> None:
        if not settings.sms_provider_url:
            raise ValueError("SMS_PROVIDER_URL is not set")
        self._settings = settings
        self._url = settings.sms_provider_url
        self._client = client or httpx.AsyncClient(timeout=settings.sms_timeout_seconds)
        self._limiter = RateLimiter(settings.sms_rate_per_second)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, message: OutgoingMessage) -> SendResult:
        s = self._settings
        body = sms_request_body(message, sender=s.sms_sender)
        headers = {"Idempotency-Key": str(message.communication_id)}
        if s.sms_provider_token:
            headers["Authorization"] = f"Bearer {s.sms_provider_token}"
        await self._limiter.acquire()
        started = time.perf_counter()
        try:
            with traced("sms send", SpanKind.CLIENT, **{
                "url.full": self._url, "relance.communication_id": str(message.communication_id),
            }) as span:
                response = await self._client.post(self._url, json=body, headers=headers)
                span.set_attribute("http.response.status_code", response.status_code)
        except httpx.HTTPError as exc:  # timeouts, refused connections, broken answers
            raise TransientSendError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        finally:
            SEND_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        error = classify_http_status(response.status_code, response.text[:200])
        if error is not None:
            raise error
        return SendResult(provider_ref=provider_reference(response))
