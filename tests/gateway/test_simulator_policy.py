"""F-31: the agency simulator checks webhook signatures as an agency would, and its policy
decides the answer to each message."""

import hashlib
import hmac
import time

from relance_agency_simulator.app import planned_answer, signature_valid

PLACEMENT = {"type": "placement", "data": {"transfer_id": "5f0e1c2d-0000-4000-8000-000000000001"}}
CANCELLATION = {"type": "cancellation_request", "data": {"transfer_id": "5f0e1c2d-0000-4000-8000-000000000001"}}
BASE = "/agency/v1/placements/5f0e1c2d-0000-4000-8000-000000000001"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {"x-relance-timestamp": str(timestamp), "x-relance-signature": sign(secret, str(timestamp), body)}


def test_f31_simulator_accepts_a_webhook_signed_with_its_secret():
    now = int(time.time())
    assert signature_valid("whsec_a", headers("whsec_a", b"{}", now), b"{}", now)


def test_f31_simulator_accepts_a_rotation_header_carrying_two_signatures():
    now = int(time.time())
    both = {"x-relance-timestamp": str(now),
            "x-relance-signature": f"{sign('whsec_new', str(now), b'{}')} {sign('whsec_a', str(now), b'{}')}"}
    assert signature_valid("whsec_a", both, b"{}", now)


def test_f31_simulator_refuses_wrong_secret_stale_time_or_changed_body():
    now = int(time.time())
    assert not signature_valid("whsec_a", headers("whsec_b", b"{}", now), b"{}", now)
    assert not signature_valid("whsec_a", headers("whsec_a", b"{}", now - 301), b"{}", now)
    assert not signature_valid("whsec_a", headers("whsec_a", b"{}", now), b"{ }", now)
    assert not signature_valid(None, headers("whsec_a", b"{}", now), b"{}", now)


def test_f31_accepting_policies_acknowledge_placements_and_validate_cancellations():
    for policy in ("accept", "delay", "flaky"):
        path, body = planned_answer(policy, PLACEMENT, "r")
        assert path == f"{BASE}/acknowledgement" and body["agency_reference"].startswith("SIM-")
        path, _ = planned_answer(policy, CANCELLATION, "r")
        assert path == f"{BASE}/cancellation/validation"


def test_f29_refusing_policy_refuses_cancellations_with_its_reason():
    path, body = planned_answer("refuse", CANCELLATION, "Payment plan signed")
    assert path == f"{BASE}/cancellation/refusal" and body == {"reason": "Payment plan signed"}
    assert planned_answer("refuse", PLACEMENT, "r")[0] == f"{BASE}/acknowledgement"


def test_f30_never_policy_answers_nothing():
    assert planned_answer("never", PLACEMENT, "r") is None
    assert planned_answer("never", CANCELLATION, "r") is None
