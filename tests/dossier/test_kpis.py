"""Collection KPIs (F-36) on a hand-computed data set, on the real stack.

The data set, in a segment of its own, aged on 30 June 2026 over the period 1 April ..
30 June 2026 (91 days). Collector A has clients C1 (EUR) and C3 (USD), collector B has
C2 (EUR). (issued, due, amount, open):

    C1  I1 invoice      1 Mar   31 Mar  1000  400   import payment 600 on 15 Apr
        I2 invoice     10 May    9 Jun   500  500
        I3 invoice     15 Jun   15 Jul   300  300
        I4 credit note  1 Jun    1 Jun   100  100   (−100 on the balance)
        I5 invoice      5 Apr    5 May   200    0   import payment 200 on 20 May
    C2  J1 invoice      1 Feb    3 Mar   800  800   in dispute since 10 Jun
        J2 invoice     20 Apr   20 May   250  100   transferred 1 Jun, the agency
                                                    collected 150 on 20 Jun
    C3  U1 invoice      1 Jun    1 Jul  1200 1200   (USD)

Aging on 30 June (EUR): not due I3 300; 1–30 days I2 500 − I4 100 = 400 (21 and 29
days); 31–60 J2 100 (41 days); 61–90 nothing; over 90 I1 400 + J1 800 = 1200 (91 and
119 days). Outstanding 2000, overdue 2000 − 300 = 1700. USD: 1200 not due.

Receivables (EUR): opening, evening of 31 March: I1 400 + 600 paid since + J1 800 =
1800; closing on 30 June: 400 + 500 + 300 − 100 + 0 + 800 + 100 = 2000; of it current
(not yet due): I3 300. Credit sales of the period: I2 500 + I3 300 + I5 200 + J2 250 =
1250.
- DSO simple = 2000 / 1250 × 91 = 145.6 days.
- DSO countback: June sold 300 (30 days, 1700 left), May 500 (31 days, 1200 left), April
  450 (30 days, 750 left), March 1000: 750 / 1000 × 31 = 23.25; 91 + 23.25 = 114.3 days.
- CEI = (1800 + 1250 − 2000) / (1800 + 1250 − 300) × 100 = 1050 / 2750 = 38.2 %.
USD: closing 1200, all current, sales 1200: DSO simple 1200 / 1200 × 91 = 91.0; countback
June 1200 covers it: 1200 / 1200 × 30 = 30.0; CEI (0 + 1200 − 1200) / (0 + 1200 − 1200):
nothing was collectible, none.

Promises due in the period: on I1, 600 by 14 Apr, kept; on I2, 500 by 20 Jun, broken;
on J1, 300 by 28 Jun, not judged yet. Made 3, kept 1, broken 1, pending 1, kept rate
1 / 2 = 50.0 %, promised 1400, kept 600.
Disputes: J1, 800, 20 days in dispute on 30 June.
Transfers: one in the period, handed over J2's 100 still open + 150 recovered = 250;
recovered in the period 150.
Per collector: A has 2 clients, owes EUR 400 + 500 + 300 − 100 = 1100 (I5 is paid) and
USD 1200; actions due in the period: the two judged promises (done) and a call due 25 Jun
(to do), a skipped call does not count: 3 due, 2 done; collected 600 + 200 = 800. B has
1 client, owes 800 + 100 = 900, one action due (the pending promise), none done,
collected 150 (by the agency).
"""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import httpx
import pytest

PERIOD = {"from": "2026-04-01", "to": "2026-06-30", "as_of": "2026-06-30"}


def d(text: str) -> date:
    return date.fromisoformat(f"2026-{text}")


class DataSet:
    def __init__(self) -> None:
        tag = uuid4().hex[:6]
        self.segment = f"KPI-{tag}"
        self.a, self.b = f"KA-{tag}", f"KB-{tag}"
        self.collector_a_api: httpx.AsyncClient | None = None


async def _client(conn, code: str, collector_id: UUID, segment: str, country: str) -> tuple[UUID, UUID]:
    client_id, dossier_id = uuid4(), uuid4()
    await conn.execute(
        "INSERT INTO clients (id, code, name, country, segment, collector_id) VALUES ($1,$2,$2,$3,$4,$5)",
        client_id, code, country, segment, collector_id)
    await conn.execute("INSERT INTO dossiers (id, client_id, kind) VALUES ($1, $2, 'active')",
                       dossier_id, client_id)
    return client_id, dossier_id


async def _item(conn, client_id: UUID, dossier_id: UUID, kind: str, number: str, issued: str,
                due: str, amount: int, open_amount: int, currency: str = "EUR",
                status: str | None = None, status_since: date | None = None) -> UUID:
    item_id = uuid4()
    await conn.execute(
        "INSERT INTO items (id, client_id, dossier_id, kind, number, issue_date, due_date, amount,"
        " open_amount, currency, status, status_since) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
        item_id, client_id, dossier_id, kind, number, d(issued), d(due), Decimal(amount),
        Decimal(open_amount), currency, status, status_since)
    return item_id


async def _intervention(conn, client_id: UUID, dossier_id: UUID, *, origin: str, due: str,
                        status: str, item_id: UUID | None = None, promise: int | None = None,
                        outcome: str | None = None) -> None:
    await conn.execute(
        "INSERT INTO interventions (id, dossier_id, client_id, origin, action_type, mode, due_at,"
        " status, details, promise_amount, promise_date, outcome)"
        " VALUES ($1,$2,$3,$4,'call','manual',$5,$6,$7,$8,$9,$10)",
        uuid4(), dossier_id, client_id, origin, datetime.combine(d(due), datetime.min.time(), UTC),
        status, {"item_ids": [str(item_id)]} if item_id else {},
        Decimal(promise) if promise else None, d(due) if promise else None, outcome)


@pytest.fixture(scope="module")
async def data(dossier_api, platform, db) -> AsyncIterator[DataSet]:
    ds = DataSet()
    for code in (ds.a, ds.b):
        assert (await dossier_api.post("/collectors", json={"code": code, "name": code})).status_code == 201
    user = await dossier_api.post("/users", json={"name": f"user-{ds.a}", "role": "collector",
                                                  "collector_code": ds.a})
    assert user.status_code == 201, user.text
    ds.collector_a_api = httpx.AsyncClient(base_url=platform.running["dossier"].url, timeout=30,
                                           headers={"Authorization": f"Bearer {user.json()['token']}"})
    async with db.acquire() as conn, conn.transaction():
        ka = await conn.fetchval("SELECT id FROM collectors WHERE code = $1", ds.a)
        kb = await conn.fetchval("SELECT id FROM collectors WHERE code = $1", ds.b)
        tag = ds.segment
        c1, d1 = await _client(conn, f"{tag}-C1", ka, tag, "FR")
        c2, d2 = await _client(conn, f"{tag}-C2", kb, tag, "DE")
        c3, d3 = await _client(conn, f"{tag}-C3", ka, tag, "FR")
        i1 = await _item(conn, c1, d1, "invoice", "I1", "03-01", "03-31", 1000, 400)
        i2 = await _item(conn, c1, d1, "invoice", "I2", "05-10", "06-09", 500, 500)
        await _item(conn, c1, d1, "invoice", "I3", "06-15", "07-15", 300, 300)
        await _item(conn, c1, d1, "credit_note", "I4", "06-01", "06-01", 100, 100)
        i5 = await _item(conn, c1, d1, "invoice", "I5", "04-05", "05-05", 200, 0)
        j1 = await _item(conn, c2, d2, "invoice", "J1", "02-01", "03-03", 800, 800,
                         status="dispute", status_since=d("06-10"))
        transfer = uuid4()
        await conn.execute("INSERT INTO dossiers (id, client_id, kind, agency_code) VALUES"
                           " ($1, $2, 'transfer', 'AG')", transfer, c2)
        j2 = await _item(conn, c2, transfer, "invoice", "J2", "04-20", "05-20", 250, 100)
        await _item(conn, c3, d3, "invoice", "U1", "06-01", "07-01", 1200, 1200, currency="USD")

        run = uuid4()
        await conn.execute(
            "INSERT INTO import_runs (id, kind, format, actor, rows_read, inserted, updated,"
            " unchanged, error_count, started_at) VALUES ($1,'payments','json','test',2,2,0,0,0,now())",
            run)
        for item_id, client_id, amount, on in ((i1, c1, 600, "04-15"), (i5, c1, 200, "05-20")):
            await conn.execute(
                "INSERT INTO import_payments (reference, client_id, item_id, amount, applied_amount,"
                " paid_on, import_id) VALUES ($1,$2,$3,$4,$4,$5,$6)",
                f"{tag}-{item_id}", client_id, item_id, Decimal(amount), d(on), run)
        await conn.execute(
            "INSERT INTO transfers (id, client_id, agency_code, state, created_by, created_at,"
            " next_follow_up_date, opening_comment, item_ids) VALUES"
            " ($1,$2,'AG','placed','test',$3,$4,'test',$5)",
            transfer, c2, datetime(2026, 6, 1, 10, tzinfo=UTC), d("07-01"), [j2])
        await conn.execute(
            "INSERT INTO transfer_payments (payment_id, agency_code, transfer_id, item_id, amount,"
            " applied, collected_on) VALUES ($1,'AG',$2,$3,150,150,$4)",
            f"{tag}-P", transfer, j2, d("06-20"))

        await _intervention(conn, c1, d1, origin="promise", due="04-14", status="done",
                            item_id=i1, promise=600, outcome="kept")
        await _intervention(conn, c1, d1, origin="promise", due="06-20", status="done",
                            item_id=i2, promise=500, outcome="broken")
        await _intervention(conn, c2, d2, origin="promise", due="06-28", status="todo",
                            item_id=j1, promise=300)
        await _intervention(conn, c1, d1, origin="manual", due="06-25", status="todo")
        await _intervention(conn, c1, d1, origin="manual", due="06-26", status="skipped")
    yield ds
    await ds.collector_a_api.aclose()


def _money(figures: dict) -> dict:
    return {k: (Decimal(v) if isinstance(v, str) and k != "currency" else v)
            for k, v in figures.items()}


async def test_f36_kpis_of_the_hand_computed_data_set(dossier_api, data):
    response = await dossier_api.get("/kpis", params={**PERIOD, "segment": data.segment})
    assert response.status_code == 200, response.text
    kpis = response.json()
    assert (kpis["from"], kpis["to"], kpis["as_of"], kpis["period_days"]) == \
        ("2026-04-01", "2026-06-30", "2026-06-30", 91)

    eur, usd = kpis["currencies"]
    assert eur["currency"] == "EUR" and usd["currency"] == "USD"
    assert {b["bucket"]: Decimal(b["amount"]) for b in eur["aging"]} == {
        "not_due": 300, "d1_30": 400, "d31_60": 100, "d61_90": 0, "d90_plus": 1200}
    eur = _money({k: v for k, v in eur.items() if k != "aging"})
    assert eur == {"currency": "EUR", "outstanding": 2000, "overdue": 1700,
                   "opening_receivables": 1800, "closing_receivables": 2000,
                   "closing_current_receivables": 300, "credit_sales": 1250,
                   "dso_simple": Decimal("145.6"), "dso_countback": Decimal("114.3"),
                   "cei": Decimal("38.2")}
    assert [Decimal(b["amount"]) for b in usd["aging"]] == [1200, 0, 0, 0, 0]
    usd = _money({k: v for k, v in usd.items() if k != "aging"})
    assert usd == {"currency": "USD", "outstanding": 1200, "overdue": 0,
                   "opening_receivables": 0, "closing_receivables": 1200,
                   "closing_current_receivables": 1200, "credit_sales": 1200,
                   "dso_simple": Decimal("91.0"), "dso_countback": Decimal("30.0"), "cei": None}

    assert [_money(p) for p in kpis["promises"]] == [{
        "currency": "EUR", "made": 3, "kept": 1, "broken": 1, "pending": 1,
        "kept_rate": Decimal("50.0"), "promised_amount": 1400, "kept_amount": 600}]
    assert [_money(p) for p in kpis["disputes"]] == [{
        "currency": "EUR", "items": 1, "clients": 1, "amount": 800,
        "average_age_days": Decimal("20.0"), "oldest_age_days": 20}]
    assert [_money(t) for t in kpis["transfers"]] == [{
        "currency": "EUR", "transfers": 1, "transferred": 250, "recovered": 150}]

    collectors = {c["collector_code"]: c for c in kpis["collectors"]}
    assert set(collectors) == {data.a, data.b}
    a, b = collectors[data.a], collectors[data.b]
    assert (a["clients"], a["actions_due"], a["actions_done"]) == (2, 3, 2)
    assert {o["currency"]: Decimal(o["amount"]) for o in a["outstanding"]} == {"EUR": 1100, "USD": 1200}
    assert {o["currency"]: Decimal(o["amount"]) for o in a["collected"]} == {"EUR": 800}
    assert (b["clients"], b["actions_due"], b["actions_done"]) == (1, 1, 0)
    assert {o["currency"]: Decimal(o["amount"]) for o in b["outstanding"]} == {"EUR": 900}
    assert {o["currency"]: Decimal(o["amount"]) for o in b["collected"]} == {"EUR": 150}


async def test_f36_filters_by_currency_country_and_collector(dossier_api, data):
    params = {**PERIOD, "segment": data.segment}
    usd = (await dossier_api.get("/kpis", params={**params, "currency": "USD"})).json()
    assert [c["currency"] for c in usd["currencies"]] == ["USD"]
    assert usd["promises"] == [] and usd["transfers"] == []
    german = (await dossier_api.get("/kpis", params={**params, "country": "DE"})).json()
    assert [(c["currency"], Decimal(c["outstanding"])) for c in german["currencies"]] == [("EUR", 900)]
    of_b = (await dossier_api.get("/kpis", params={**params, "collector": data.b})).json()
    assert [c["collector_code"] for c in of_b["collectors"]] == [data.b]
    assert [Decimal(c["overdue"]) for c in of_b["currencies"]] == [900]


async def test_f36_f4_a_collector_gets_figures_on_their_own_clients_only(data):
    api = data.collector_a_api
    mine = (await api.get("/kpis", params={**PERIOD, "segment": data.segment})).json()
    assert [c["collector_code"] for c in mine["collectors"]] == [data.a]
    assert [(c["currency"], Decimal(c["outstanding"])) for c in mine["currencies"]] == \
        [("EUR", 1100), ("USD", 1200)]
    assert mine["disputes"] == [] and mine["transfers"] == []
    other = await api.get("/kpis", params={**PERIOD, "collector": data.b})
    assert other.status_code == 404
    assert other.json()["errors"][0]["field"] == "collector"


async def test_f36_bad_filters_are_refused_naming_the_field(dossier_api):
    cases = [({"from": "2026-05-01", "to": "2026-04-01", "as_of": "2026-06-30"}, "from"),
             ({"to": "2026-07-01", "as_of": "2026-06-30"}, "to"),
             ({"currency": "eur"}, "currency"),
             ({"from": "yesterday"}, "from"),
             ({"collector": "NO-SUCH-COLLECTOR"}, "collector")]
    for params, field in cases:
        response = await dossier_api.get("/kpis", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["field"] == field, (params, response.text)


# ---- kept figures (F-36 at scale) ---------------------------------------------------------


async def test_f36_figures_are_kept_until_a_change_then_refreshed_by_the_refresher(dossier_api, db):
    """The same filters answer from the kept figures while nothing changed; a change makes
    them stale: they are served flagged (`fresh: false`) or already recomputed, never stale
    and flagged fresh; the refresher brings the new figures without a request computing."""
    from tests.conftest import eventually

    segment = f"kept-{uuid4().hex[:8]}"
    params = {"segment": segment, "as_of": "2026-06-30"}

    async def new_client(amount: str) -> None:
        response = await dossier_api.post("/clients", json={
            "code": f"KEPT-{uuid4().hex[:8]}", "name": "Kept", "segment": segment,
            "items": [{"number": "F-1", "due_date": "2026-06-01", "amount": amount}]})
        assert response.status_code == 201, response.text

    def outstanding(kpis: dict) -> Decimal:
        return sum((Decimal(c["outstanding"]) for c in kpis["currencies"]), Decimal(0))

    await new_client("100.00")
    first = (await dossier_api.get("/kpis", params=params)).json()
    assert first["fresh"] is True and outstanding(first) == Decimal("100.00")
    again = (await dossier_api.get("/kpis", params=params)).json()
    if again["fresh"]:  # no write anywhere in between: the very figures kept
        assert again["computed_at"] == first["computed_at"]
    assert outstanding(again) == Decimal("100.00")
    stored = await db.fetchval("SELECT count(*) FROM kpi_snapshots WHERE params->>'segment' = $1", segment)
    assert stored == 1

    await new_client("250.00")
    right_after = (await dossier_api.get("/kpis", params=params)).json()
    if right_after["fresh"]:
        assert outstanding(right_after) == Decimal("350.00")
    else:  # the kept figures, while the refresher recomputes them
        assert outstanding(right_after) == Decimal("100.00")

    async def refreshed():
        kpis = (await dossier_api.get("/kpis", params=params)).json()
        return kpis if kpis["fresh"] and outstanding(kpis) == Decimal("350.00") else None

    latest = await eventually(refreshed, timeout=60)
    assert latest["computed_at"] > first["computed_at"]
