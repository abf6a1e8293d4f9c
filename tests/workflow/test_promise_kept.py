"""Issue 10 (F-12): a promise to pay is kept when the amount promised was paid by its
date, not only when every item is settled. The dossier service's activities against the
session's PostgreSQL, called as the workflow calls them."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from relance.contracts.dossier import CreateRequest, NewIntervention, PromiseCheckRequest
from relance_dossier.activities.dossier import DossierActivities, promise_kept
from tests.workflow.conftest import seed_dossier


async def _promise(pool, amount: str, paid: str, *, on_items: bool = True):
    activities = DossierActivities(pool, "Europe/Paris", 8)
    due = date.today() - timedelta(days=30)
    _, dossier_id, _ = await seed_dossier(pool, [(due, Decimal("1500.00")), (due, Decimal("500.00"))])
    promise_id = uuid4()
    item_ids = [r["id"] for r in await pool.fetch(
        "SELECT id FROM items WHERE dossier_id = $1", dossier_id)] if on_items else []
    await activities.create_intervention(CreateRequest(dossier_id=dossier_id, new=NewIntervention(
        intervention_id=promise_id, actor="user:ana", kind="promise", due_at=datetime.now(UTC),
        promise_amount=amount, promise_date=date.today(), item_ids=item_ids)))
    # The client pays on the larger invoice (a partial payment).
    await pool.execute(
        "UPDATE items SET open_amount = open_amount - $2::numeric"
        " WHERE dossier_id = $1 AND amount = 1500", dossier_id, Decimal(paid))
    return await activities.check_promise(
        PromiseCheckRequest(intervention_id=promise_id, follow_up_id=uuid4())), promise_id


@pytest.mark.parametrize("on_items", [True, False])
async def test_a_500_promise_on_a_2000_account_paid_500_is_kept(pool, on_items) -> None:
    result, promise_id = await _promise(pool, "500.00", "500.00", on_items=on_items)
    assert (result.kept, result.follow_up_id) == (True, None)
    assert await pool.fetchval("SELECT outcome FROM interventions WHERE id = $1", promise_id) == "kept"


@pytest.mark.parametrize("on_items", [True, False])
async def test_a_promise_paid_short_of_its_amount_is_broken_with_a_follow_up(pool, on_items) -> None:
    # Without items named, the promise is on the dossier's open invoices (2,000 €).
    result, promise_id = await _promise(pool, "500.00", "300.00", on_items=on_items)
    assert result.kept is False and result.follow_up_id is not None
    assert await pool.fetchval("SELECT outcome FROM interventions WHERE id = $1", promise_id) == "broken"


@pytest.mark.parametrize(("promised", "at_promise", "now", "kept"), [
    ("500", "2000", "1500", True),
    ("500", "2000", "1400", True),
    ("500", "2000", "1501", False),
    ("500", "2000", "0", True),   # everything settled
    ("500", None, "10", False),   # recorded before the amount was remembered: items settled
    ("500", None, "0", True),
])
def test_promise_kept_rule(promised, at_promise, now, kept) -> None:
    assert promise_kept(promised=Decimal(promised), open_now=Decimal(now),
                        open_at_promise=Decimal(at_promise) if at_promise else None) is kept
