"""ERP import rows/s (F-3) against a raw COPY of the same rows, in the same run.

Generated data: N item rows as one CSV file in memory, spread over N / ITEMS_PER_CLIENT
clients that are imported first (not timed), so every row is valid and new.

Import: the CSV goes through the real path (`read_file` → row checks → COPY into the
staging table → set-based upsert → one `item.batch_imported` event and one audit entry
per client → the run's report), in one transaction, timed from the first byte read to the
commit.

Baseline: asyncpg `copy_to_table` of the same CSV bytes into a bare table with the same
typed columns and no index, timed the same way (PostgreSQL parses the CSV itself).

Floor (what bounds the ratio): the same rows once resolved to their client and dossier,
COPYed straight into `items` in key order with its indexes, its triggers and foreign-key
checks off as the import's insert runs where the role may (`session_replication_role`),
then rolled back: writing these rows into this table with no staging, checking or
resolving at all."""

from __future__ import annotations

import io
import time
import uuid
from datetime import date, timedelta

from bench.report import Comparison, Throughput
from relance.db import create_pool
from relance_dossier.domain.imports import ImportKind, read_file
from relance_dossier.persistence.imports import run_import, skip_foreign_key_rechecks

ITEMS_PER_CLIENT = 200
ITEM_COLUMNS = "client_code,kind,number,issue_date,due_date,amount,open_amount,currency"


def generate_items_csv(rows: int, client_codes: list[str], first: int = 0) -> str:
    """Items `first` to `first + rows - 1`, spread over `client_codes` in turn."""
    base = date(2026, 1, 1)
    lines = [ITEM_COLUMNS]
    for i in range(first, first + rows):
        issued = base + timedelta(days=i % 300)
        lines.append(
            f"{client_codes[i % len(client_codes)]},invoice,F{i:09d},{issued},"
            f"{issued + timedelta(days=30)},{(i % 99_999) + 1}.{i % 100:02d},,EUR"
        )
    return "\n".join(lines) + "\n"


async def run_import_bench(database_url: str, rows: int) -> Comparison:
    prefix = f"B{uuid.uuid4().hex[:8]}"
    client_codes = [f"{prefix}-{n:06d}" for n in range(max(1, rows // ITEMS_PER_CLIENT))]
    clients_csv = "code,name\n" + "".join(f"{c},Bench client {c}\n" for c in client_codes)
    items_csv = generate_items_csv(rows, client_codes)
    pool = await create_pool(database_url, schema="dossier", min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            parsed = read_file(io.StringIO(clients_csv, newline=""), "csv")
            await run_import(conn, "clients", "csv", parsed.rows, actor="bench")

            started = time.perf_counter()
            parsed = read_file(io.StringIO(items_csv, newline=""), "csv")
            _, report = await run_import(conn, "items", "csv", parsed.rows, actor="bench",
                                         csv_body=parsed.csv_body)
            import_seconds = time.perf_counter() - started
            if report.inserted != rows or report.error_count:
                raise RuntimeError(f"import bench: expected {rows} new rows, got {report}")

            table = f"bench_raw_items_{prefix.lower()}"
            await conn.execute(
                f"CREATE TABLE {table} (client_code text, kind text, number text, issue_date date,"
                " due_date date, amount numeric(18,2), open_amount numeric(18,2), currency text)"
            )
            try:
                payload = items_csv.encode()
                started = time.perf_counter()
                await conn.copy_to_table(table, source=io.BytesIO(payload), format="csv", header=True)
                raw_seconds = time.perf_counter() - started
            finally:
                await conn.execute(f"DROP TABLE {table}")
            floor_seconds = await items_floor_seconds(conn, prefix)
    finally:
        await pool.close()
    floor = Throughput("COPY of the resolved rows into items", rows, floor_seconds, "rows")
    return Comparison(
        name="import",
        subject=Throughput("ERP import", rows, import_seconds, "rows"),
        baseline=Throughput("raw COPY", rows, raw_seconds, "rows"),
        extra={"floor": floor.as_dict(), "floor_ratio": round(raw_seconds / floor_seconds, 4),
               "ratio_to_floor": round(floor_seconds / import_seconds, 4)},
    )


ITEM_TABLE_COLUMNS = ["id", "client_id", "dossier_id", "kind", "number", "issue_date", "due_date",
                      "amount", "open_amount", "currency"]


class _RolledBack(Exception):
    pass


async def items_floor_seconds(conn, prefix: str) -> float:
    """The seconds of a COPY into `items` of the rows the import just wrote, with new ids
    and numbers (see the module's docstring), rolled back."""
    resolved = io.BytesIO()
    await conn.copy_from_query(
        "SELECT uuidv7(), i.client_id, i.dossier_id, i.kind, i.number || '-floor', i.issue_date,"
        " i.due_date, i.amount, i.open_amount, i.currency FROM items i"
        " JOIN clients c ON c.id = i.client_id WHERE c.code LIKE $1"
        " ORDER BY i.client_id, i.kind, i.number", f"{prefix}-%", output=resolved, format="csv")
    try:
        async with conn.transaction():
            await skip_foreign_key_rechecks(conn)  # as the import's insert runs
            started = time.perf_counter()
            await conn.copy_to_table("items", source=io.BytesIO(resolved.getvalue()), format="csv",
                                     columns=ITEM_TABLE_COLUMNS)
            seconds = time.perf_counter() - started
            raise _RolledBack
    except _RolledBack:
        return seconds


async def import_csv(conn, kind: ImportKind, text: str, phases: dict[str, float] | None = None) -> float:
    """One import of `text` through the real path (as `run_import_bench` times it); the
    scale run loads its data set with it. `phases`, when given, receives the seconds of
    each phase the import reports (the last one runs to the commit)."""
    started = time.perf_counter()
    marks = [("parsing the file", started)]
    parsed = read_file(io.StringIO(text, newline=""), "csv")
    _, report = await run_import(conn, kind, "csv", parsed.rows, actor="bench",
                                 csv_body=parsed.csv_body,
                                 phase=lambda name: marks.append((name, time.perf_counter())))
    ended = time.perf_counter()
    if report.error_count or report.inserted != report.rows_read:
        raise RuntimeError(f"bench load: every {kind} row should be new and valid, got {report}")
    if phases is not None:
        for (name, at), (_, until) in zip(marks, [*marks[1:], ("", ended)], strict=True):
            phases[name] = round(until - at, 2)
    return ended - started


if __name__ == "__main__":  # a manual run against DATABASE_URL: python -m bench.import_bench N
    import asyncio
    import json
    import sys

    from relance.settings import CommonSettings

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(json.dumps(asyncio.run(run_import_bench(CommonSettings().database_url, count)).as_dict(), indent=2))
