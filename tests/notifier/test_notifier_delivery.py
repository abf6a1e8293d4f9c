"""The SMS provider's delivery states read as delivered / undelivered (F-32)."""

import pytest

from relance_notifier.domain.delivery import (
    DELIVERED,
    UNDELIVERED,
    UnknownDeliveryState,
    delivery_status_for,
)


@pytest.mark.parametrize(
    ("state", "status"),
    [("delivered", DELIVERED), ("DELIVRD", DELIVERED), ("failed", UNDELIVERED),
     ("expired", UNDELIVERED), (" Undelivered ", UNDELIVERED), ("rejected", UNDELIVERED),
     ("queued", None), ("sent", None), ("accepted", None)],
)
def test_f32_provider_states_map_to_final_delivery_statuses(state: str, status: str | None) -> None:
    assert delivery_status_for(state) == status


def test_f32_an_unknown_state_is_refused() -> None:
    with pytest.raises(UnknownDeliveryState):
        delivery_status_for("lost in space")
