"""F-31: agency requests and webhooks are signed with HMAC-SHA256 over "{timestamp}.{body}",
a 300 s tolerance, and two active secrets during a rotation."""

import hashlib
import hmac

import pytest

from relance_gateway.domain.signatures import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    compute_signature,
    parse_signatures,
    signature_header,
    verify_signature,
)

BODY = b'{"agency_reference":"RCV-1"}'
NOW = 1_800_000_000


def verify(secrets, timestamp, signature, body=BODY, now=NOW):
    verify_signature(secrets=secrets, timestamp_header=timestamp, signature_header_value=signature,
                     body=body, now=now)


def test_f31_signature_is_the_documented_hmac_recipe():
    expected = hmac.new(b"s3cret", f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute_signature("s3cret", NOW, BODY) == expected
    assert signature_header(["s3cret"], NOW, BODY) == f"v1={expected}"


def test_f31_a_correct_signature_verifies():
    verify(["s3cret"], str(NOW), signature_header(["s3cret"], NOW, BODY))


def test_f31_a_changed_body_is_refused():
    with pytest.raises(SignatureError) as refused:
        verify(["s3cret"], str(NOW), signature_header(["s3cret"], NOW, BODY), body=BODY + b" ")
    assert refused.value.field == SIGNATURE_HEADER
    assert "does not match" in refused.value.reason


def test_f31_a_wrong_secret_is_refused():
    with pytest.raises(SignatureError):
        verify(["s3cret"], str(NOW), signature_header(["other"], NOW, BODY))


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_f31_timestamps_within_300_seconds_are_accepted(skew):
    ts = NOW + skew
    verify(["s3cret"], str(ts), signature_header(["s3cret"], ts, BODY))


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_f31_stale_or_future_timestamps_are_refused_even_if_correctly_signed(skew):
    ts = NOW + skew
    with pytest.raises(SignatureError) as refused:
        verify(["s3cret"], str(ts), signature_header(["s3cret"], ts, BODY))
    assert refused.value.field == TIMESTAMP_HEADER
    assert "300 s" in refused.value.reason


def test_f31_a_signature_made_for_another_timestamp_is_refused():
    with pytest.raises(SignatureError):
        verify(["s3cret"], str(NOW), signature_header(["s3cret"], NOW - 10, BODY))


@pytest.mark.parametrize(("timestamp", "signature", "field"), [
    (None, "v1=00", TIMESTAMP_HEADER),
    ("", "v1=00", TIMESTAMP_HEADER),
    ("yesterday", "v1=00", TIMESTAMP_HEADER),
    (str(NOW), None, SIGNATURE_HEADER),
    (str(NOW), "sha256=abc", SIGNATURE_HEADER),
])
def test_f31_missing_or_malformed_headers_name_the_header(timestamp, signature, field):
    with pytest.raises(SignatureError) as refused:
        verify(["s3cret"], timestamp, signature)
    assert refused.value.field == field


def test_f31_rotation_either_of_two_active_secrets_verifies():
    active = ["new-secret", "old-secret"]
    verify(active, str(NOW), signature_header(["old-secret"], NOW, BODY))
    verify(active, str(NOW), signature_header(["new-secret"], NOW, BODY))


def test_f31_rotation_a_header_with_one_entry_per_secret_verifies_with_either():
    header = signature_header(["new-secret", "old-secret"], NOW, BODY)
    assert len(parse_signatures(header)) == 2
    verify(["old-secret"], str(NOW), header)
    verify(["new-secret"], str(NOW), header)
    with pytest.raises(SignatureError):
        verify(["revoked-secret"], str(NOW), header)


def test_f31_no_active_secret_verifies_nothing():
    with pytest.raises(SignatureError):
        verify([], str(NOW), signature_header(["s3cret"], NOW, BODY))


def test_parse_accepts_comma_or_space_separated_entries_and_ignores_other_schemes():
    assert parse_signatures("v1=AA, v0=bb v1=cc") == ["aa", "cc"]
