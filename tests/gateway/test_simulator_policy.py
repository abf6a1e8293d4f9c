"""F-31: the agency simulator verifies webhooks with the `standardwebhooks` library as an agency would, and its policy
decides the answer to each message."""

import base64
import time
from datetime import UTC, datetime

from standardwebhooks import Webhook

from relance_agency_simulator.app import planned_answer, signature_valid

PLACEMENT = {"type": "placement", "data": {"transfer_id": "5f0e1c2d-0000-4000-8000-000000000001"}}
CANCELLATION = {"type": "cancellation_request", "data": {"transfer_id": "5f0e1c2d-0000-4000-8000-000000000001"}}
BASE = "/agency/v1/placements/5f0e1c2d-0000-4000-8000-000000000001"
SECRET_A = "whsec_" + base64.b64encode(b"a" * 32).decode()
SECRET_B = "whsec_" + base64.b64encode(b"b" * 32).decode()


def headers(secret: str, body: bytes, timestamp: int, msg_id: str = "msg-1") -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_f31_simulator_accepts_a_webhook_signed_with_its_secret():
    assert signature_valid(SECRET_A, headers(SECRET_A, b"{}", int(time.time())), b"{}")


def test_f31_simulator_accepts_a_rotation_header_carrying_two_signatures():
    now = int(time.time())
    both = headers(SECRET_A, b"{}", now)
    both["webhook-signature"] = f"{headers(SECRET_B, b'{}', now)['webhook-signature']} {both['webhook-signature']}"
    assert signature_valid(SECRET_A, both, b"{}")


def test_f31_simulator_refuses_wrong_secret_stale_time_changed_body_or_old_headers():
    now = int(time.time())
    assert not signature_valid(SECRET_A, headers(SECRET_B, b"{}", now), b"{}")
    assert not signature_valid(SECRET_A, headers(SECRET_A, b"{}", now - 301), b"{}")
    assert not signature_valid(SECRET_A, headers(SECRET_A, b"{}", now), b"{ }")
    assert not signature_valid(None, headers(SECRET_A, b"{}", now), b"{}")
    assert not signature_valid(SECRET_A, {"webhook-id": "m", "webhook-timestamp": str(now),
                                          "webhook-signature": "v1=00"}, b"{}")
    assert not signature_valid(SECRET_A, {"x-relance-timestamp": str(now),
                                          "x-relance-signature": "v1=00"}, b"{}")


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
