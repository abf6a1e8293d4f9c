"""F-31: agency requests are signed with HMAC-SHA256 over the timestamp, a nonce, the
method, the path, the Idempotency-Key and the body (a signature is valid for one request
only), with a 300 s tolerance and two active secrets during a rotation; webhooks follow
the Standard Webhooks specification and verify with the official `standardwebhooks`
library."""

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from relance_gateway.api.app import DESCRIPTION
from relance_gateway.domain.credentials import new_signing_secret
from relance_gateway.domain.signatures import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    UnusableSecret,
    parse_signatures,
    request_signature_header,
    sign_request,
    signing_key,
    verify_request,
    webhook_headers,
)

SECRET = "whsec_" + base64.b64encode(b"s3cret-s3cret-s3cret-s3cret-32by").decode()
OTHER = "whsec_" + base64.b64encode(b"another-secret-of-thirty-two-by!").decode()
BODY = b'{"reason":"A payment plan is signed"}'
NOW = 1_800_000_000
NONCE = "5b0c7a56-3a3c-4a8e-9d0e-6a1b2c3d4e5f"
PATH = "/agency/v1/placements/5f0e1c2d-0000-4000-8000-000000000001/cancellation/refusal"
REQUEST = {"nonce": NONCE, "method": "POST", "path": PATH, "idempotency_key": "key-1", "body": BODY}


def header(secrets=(SECRET,), timestamp=NOW, **changes):
    return request_signature_header(list(secrets), **{"timestamp": timestamp, **REQUEST, **changes})


def verify(secrets=(SECRET,), timestamp=str(NOW), signature=None, now=NOW, **request):
    parts = {**REQUEST, **request}
    return verify_request(
        secrets=list(secrets), timestamp_header=timestamp, nonce_header=parts["nonce"],
        signature_header_value=header() if signature is None else signature,
        method=parts["method"], path=parts["path"], idempotency_key=parts["idempotency_key"],
        body=parts["body"], now=now,
    )


def test_f31_request_signature_is_the_documented_recipe():
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    content = f"{NOW}\n{NONCE}\nPOST\n{PATH}\nkey-1\n".encode() + BODY
    expected = hmac.new(key, content, hashlib.sha256).hexdigest()
    assert sign_request(SECRET, timestamp=NOW, **REQUEST) == expected
    assert header() == f"v2={expected}"


def test_f31_the_recipe_given_in_the_api_description_produces_signatures_the_gateway_accepts():
    code = DESCRIPTION[DESCRIPTION.index("import base64"):DESCRIPTION.index("path = f")]
    code = code.replace('"ak_…", "whsec_…"', f'"ak_x", "{SECRET}"')
    namespace: dict = {}
    exec(compile(code, "description", "exec"), namespace)  # noqa: S102 - our own documentation
    headers = namespace["signed"]("POST", PATH, BODY, idempotency_key="key-1")
    verify_request(
        secrets=[SECRET], timestamp_header=headers["X-Relance-Timestamp"],
        nonce_header=headers["X-Relance-Nonce"], signature_header_value=headers["X-Relance-Signature"],
        method="POST", path=PATH, idempotency_key="key-1", body=BODY,
        now=int(headers["X-Relance-Timestamp"]),
    )


def test_f31_a_correct_signature_verifies_and_yields_a_fingerprint_for_the_replay_cache():
    first = verify()
    assert first.timestamp == NOW and re.fullmatch(r"[0-9a-f]{64}", first.fingerprint)
    # Another nonce is another request: another fingerprint, whatever the secret.
    other = verify(nonce="another-nonce-1", signature=header(nonce="another-nonce-1"))
    assert other.fingerprint != first.fingerprint
    rotated = verify(secrets=[OTHER, SECRET], signature=header([OTHER]))
    assert rotated.fingerprint == first.fingerprint


@pytest.mark.parametrize("change", [
    {"path": PATH.replace("0001/", "0002/")},                        # another transfer
    {"path": PATH.replace("cancellation/refusal", "acknowledgement")},  # another operation
    {"method": "PUT"},
    {"idempotency_key": "key-2"},
    {"idempotency_key": None},
    {"body": BODY + b" "},
    {"nonce": "another-nonce-2"},
], ids=["transfer", "operation", "method", "idempotency-key", "no-key", "body", "nonce"])
def test_f31_a_signature_made_for_one_request_is_refused_for_any_other(change):
    with pytest.raises(SignatureError) as refused:
        verify(signature=header(), **change)
    assert refused.value.field == SIGNATURE_HEADER
    assert "does not match" in refused.value.reason


def test_f31_a_wrong_secret_is_refused():
    with pytest.raises(SignatureError):
        verify(signature=header([OTHER]))


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_f31_timestamps_within_300_seconds_are_accepted(skew):
    ts = NOW + skew
    verify(timestamp=str(ts), signature=header(timestamp=ts))


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_f31_stale_or_future_timestamps_are_refused_even_if_correctly_signed(skew):
    ts = NOW + skew
    with pytest.raises(SignatureError) as refused:
        verify(timestamp=str(ts), signature=header(timestamp=ts))
    assert refused.value.field == TIMESTAMP_HEADER
    assert "300 s" in refused.value.reason


def test_f31_a_signature_made_for_another_timestamp_is_refused():
    with pytest.raises(SignatureError):
        verify(signature=header(timestamp=NOW - 10))


@pytest.mark.parametrize(("timestamp", "nonce", "signature", "field"), [
    (None, NONCE, "v2=00", TIMESTAMP_HEADER),
    ("", NONCE, "v2=00", TIMESTAMP_HEADER),
    ("yesterday", NONCE, "v2=00", TIMESTAMP_HEADER),
    (str(NOW), None, "v2=00", NONCE_HEADER),
    (str(NOW), "short", "v2=00", NONCE_HEADER),
    (str(NOW), "has space in it", "v2=00", NONCE_HEADER),
    (str(NOW), NONCE, None, SIGNATURE_HEADER),
    (str(NOW), NONCE, "sha256=abc", SIGNATURE_HEADER),
])
def test_f31_missing_or_malformed_headers_name_the_header(timestamp, nonce, signature, field):
    with pytest.raises(SignatureError) as refused:
        verify_request(secrets=[SECRET], timestamp_header=timestamp, nonce_header=nonce,
                       signature_header_value=signature, method="POST", path=PATH,
                       idempotency_key="key-1", body=BODY, now=NOW)
    assert refused.value.field == field


def test_f31_the_retired_v1_recipe_is_refused_with_a_reason_that_says_so():
    old = "v1=" + hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError) as refused:
        verify(signature=old)
    assert "no longer accepted" in refused.value.reason and "v2" in refused.value.reason


def test_f31_rotation_either_of_two_active_secrets_verifies():
    verify(secrets=[OTHER, SECRET], signature=header([SECRET]))
    verify(secrets=[OTHER, SECRET], signature=header([OTHER]))
    both = header([OTHER, SECRET])
    assert len(parse_signatures(both)) == 2
    verify(secrets=[SECRET], signature=both)
    with pytest.raises(SignatureError):
        verify(secrets=[new_signing_secret()], signature=both)


def test_f31_no_active_secret_verifies_nothing():
    with pytest.raises(SignatureError):
        verify(secrets=[])


def test_parse_accepts_comma_or_space_separated_entries_and_ignores_other_schemes():
    assert parse_signatures("v2=AA, v1=bb v2=cc") == ["aa", "cc"]


# ---- keys --------------------------------------------------------------------------------


def test_f31_new_secrets_are_standard_webhooks_secrets_of_32_random_bytes():
    secret = new_signing_secret()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    assert len(signing_key(secret)) == 32
    assert Webhook(secret)  # the official library reads it


def test_f31_a_secret_that_is_not_base64_is_unusable():
    with pytest.raises(UnusableSecret):
        signing_key("whsec_")
    with pytest.raises(UnusableSecret):
        signing_key("whsec_x")


# ---- webhooks: Standard Webhooks -----------------------------------------------------------


def test_f31_webhook_headers_verify_with_the_official_standardwebhooks_library():
    now = int(datetime.now(UTC).timestamp())
    headers = webhook_headers([SECRET], "0b7c5e1e-8a51-4a8e-9a43-1f3c1c0f6b10", now, BODY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(BODY, headers) == {"reason": "A payment plan is signed"}
    expected = Webhook(SECRET).sign(headers["webhook-id"], datetime.fromtimestamp(now, UTC), BODY.decode())
    assert headers["webhook-signature"] == expected
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY, {**headers, "webhook-id": "another-message"})


def test_f31_a_webhook_during_a_rotation_carries_two_signatures_either_verifies():
    now = int(datetime.now(UTC).timestamp())
    headers = webhook_headers([OTHER, SECRET], "msg-1", now, BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(SECRET).verify(BODY, headers)
    Webhook(OTHER).verify(BODY, headers)
