"""ERP import, the bulk path (F-3).

One import is one transaction:
1. the rows are checked one by one (`domain.imports`) while they stream into a temporary
   staging table with COPY; a CSV file of items is instead copied as it is and its clean
   rows converted in SQL, only the others being checked one by one;
2. what needs the database is checked set-based (unknown client or collector code, an
   item that does not exist, a payment reference already applied with other values), and
   the rows at fault are reported and left out;
3. the valid rows are upserted set-based: an unchanged row is not written, so importing
   the same file twice changes nothing and emits nothing the second time;
4. events are written to the outbox set-based too, with the envelope built in SQL:
   `client.created` + `dossier.opened` per new client (as the client API does),
   `client.updated` per changed client, and for items and payments one event per client
   touched (`item.batch_imported`, `item.payments_applied`), never one per row;
5. audit entries (F-33), one per client touched, and the run's report (`import_runs`).

Imports are serialised by an advisory lock: two nightly jobs on the same rows would
otherwise lock them in different orders."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg

from relance.audit import record_audit_rows
from relance.db import create_pool
from relance.events import (
    ClientCreated,
    ClientUpdated,
    DossierOpened,
    EventPayload,
    ItemBatchImported,
    ItemPaymentsApplied,
)
from relance.outbox import write_events_from_rows
from relance_dossier.domain.imports import (
    ITEM_KINDS,
    MAX_REPORTED_ERRORS,
    CsvBody,
    ImportFileError,
    ImportFormat,
    ImportKind,
    ImportReport,
    ItemRows,
    RawRow,
    RowChecker,
    RowError,
    check_columns,
    duplicate_reason,
    guess_format,
    guess_kind,
    read_file,
    row_checker,
)
from relance_dossier.persistence.assignment import Assignment, apply_assignments, assign_new_clients
from relance_dossier.persistence.migrations import SCHEMA

IMPORT_LOCK = 0x52454C414E4345  # pg_advisory_xact_lock key shared by every import
STAGE = "import_stage"
PROGRESS_EVERY = 10_000  # rows between two progress callbacks (and event-loop yields)
NUMBERS_CAP = ItemBatchImported.ITEM_NUMBERS_CAP

STAGE_COLUMNS: dict[ImportKind, str] = {
    "clients": "row_no integer, code text, name text, country text, segment text,"
               " category text, tags text[], risk text, collector_code text,"
               " scenario_code text, locale text",
    "items": "row_no integer, client_code text, kind text, number text, issue_date date,"
             " due_date date, amount numeric(18,2), open_amount numeric(18,2), currency text",
    "payments": "row_no integer, client_code text, item_kind text, item_number text,"
                " amount numeric(18,2), paid_on date, reference text",
}

Progress = Callable[[int], None]  # rows read so far
Phase = Callable[[str], None]  # what the import is doing now


async def run_import(
    conn: asyncpg.Connection,
    kind: ImportKind,
    fmt: ImportFormat,
    rows: Iterable[RawRow],
    *,
    actor: str,
    source: str | None = None,
    progress: Progress | None = None,
    phase: Phase | None = None,
    csv_body: CsvBody | None = None,
) -> tuple[UUID, ImportReport]:
    """Import `rows` (from `domain.imports.read_file`); returns the run id and its report.
    With `csv_body` (`ParsedFile.csv_body`), item records go to PostgreSQL as the CSV text
    they are, and `rows` is read only when that path declines the file."""
    report = ImportReport(kind=kind)
    import_id = uuid4()
    started_at = datetime.now(UTC)
    say = phase or (lambda _: None)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", IMPORT_LOCK)
        # Hash joins over a million staged rows fit in memory instead of spilling to disk.
        await conn.execute("SET LOCAL work_mem = '256MB'")
        await conn.execute(
            "INSERT INTO import_runs (id, kind, format, source, actor, rows_read, inserted,"
            " updated, unchanged, error_count, started_at) VALUES ($1,$2,$3,$4,$5,0,0,0,0,0,$6)",
            import_id, kind, fmt, source, actor, started_at,
        )
        await conn.execute(f"CREATE TEMP TABLE {STAGE} ({STAGE_COLUMNS[kind]}) ON COMMIT DROP")
        say("reading and checking rows")
        checker = row_checker(kind)
        if not (kind == "items" and csv_body is not None
                and await _stage_items_csv(conn, csv_body, checker, report, progress)):
            await conn.copy_records_to_table(
                STAGE, records=_checked_records(rows, checker, report, progress),
                columns=list(checker.stage_columns),
            )
        if progress:
            progress(report.rows_read)
        # Temporary tables are never analysed automatically: without statistics the
        # planner would join a million staged rows as if there were a few.
        await conn.execute(f"ANALYZE {STAGE}")
        staged = await conn.fetchval(f"SELECT count(*) FROM {STAGE}")
        context = _Context(conn, import_id, actor, report, say)
        await {"clients": _import_clients, "items": _import_items,
               "payments": _import_payments}[kind](context)
        # What was staged and neither rejected nor written was already there as it is.
        report.unchanged = staged - context.rejected - report.inserted - report.updated
        report.sort_errors()
        await conn.execute(
            "UPDATE import_runs SET rows_read = $2, inserted = $3, updated = $4, unchanged = $5,"
            " error_count = $6, errors = $7, details = $8, finished_at = clock_timestamp()"
            " WHERE id = $1",
            import_id, report.rows_read, report.inserted, report.updated, report.unchanged,
            report.error_count,
            [{"row": e.row, "field": e.field, "reason": e.reason} for e in report.errors],
            report.details,
        )
    return import_id, report


async def import_path(
    database_url: str,
    path: Path,
    *,
    kind: ImportKind | None = None,
    fmt: ImportFormat | None = None,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
    phase: Phase | None = None,
) -> tuple[UUID, ImportFormat, ImportReport]:
    """Import a file from disk (the `relance import` command). `progress` gets the rows
    and the bytes read so far; the kind and format are guessed when not given."""
    with path.open("rb") as raw:
        fmt = fmt or guess_format(path.name, None, raw.read(64))
        raw.seek(0)
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            parsed = read_file(text, fmt)
            kind = kind or guess_kind(parsed.columns)
            if fmt == "csv":
                check_columns(kind, parsed.columns)
            pool = await create_pool(database_url, schema=SCHEMA, min_size=1, max_size=1)
            try:
                async with pool.acquire() as conn:
                    import_id, report = await run_import(
                        conn, kind, fmt, parsed.rows, actor=actor, source=path.name,
                        progress=(lambda rows: progress(rows, raw.tell())) if progress else None,
                        phase=phase, csv_body=parsed.csv_body,
                    )
            finally:
                await pool.close()
        except UnicodeDecodeError as exc:
            raise ImportFileError("file", f"not UTF-8 text: {exc.reason}") from None
    return import_id, fmt, report


async def _checked_records(rows, checker, report: ImportReport, progress: Progress | None) -> AsyncIterator[tuple]:
    for row_no, raw in rows:
        report.rows_read += 1
        checked = checker.check(row_no, raw)
        if type(checked) is tuple:
            yield checked
        else:
            report.add_errors(checked)
        if report.rows_read % PROGRESS_EVERY == 0:
            if progress:
                progress(report.rows_read)
            await asyncio.sleep(0)  # an API import must not starve the other requests


# ---- the CSV path of the items --------------------------------------------------------
# Checking a million rows one by one in Python cost more than everything PostgreSQL did
# with them: PostgreSQL parses the file itself (COPY into text columns), a row whose cells
# are all clean and canonical is converted in SQL, and only the other rows come back to
# the full check of `domain.imports`, which says exactly what is wrong with them. The
# result is the one of the row-by-row path: the same records, errors and report.

RAW = "import_raw"
CSV_CHUNK = 1 << 20  # characters per COPY message


class _Declined(Exception):
    """The file is one the row-by-row path reads more faithfully: the import goes that way."""


# Dates are looked up in a calendar of their canonical YYYY-MM-DD spellings: a hash probe
# costs a fifth of checking and casting each cell; a date outside it (or written another
# way: French dates, week dates) goes to the full check.
CALENDAR = "import_calendar"
CALENDAR_YEARS = (1900, 2199)


def _sql_amount(cell: str) -> str:
    # domain.imports.AMOUNT in ASCII digits (bounded repetitions cost PostgreSQL's regex
    # engine several times more than the length check).
    return (f"({cell} ~ '^[0-9]+(\\.[0-9][0-9]?)?$'"
            f" AND length(split_part({cell}, '.', 1)) <= 16)")


def _item_cells(columns: list[str]) -> dict[str, str]:
    """The raw table's column for each item column; NULL for a column the file lacks."""
    at = {name: f"c{i}" for i, name in enumerate(columns)}
    return {name: at.get(name, "NULL::text") for name in ItemRows.parsers}


def _items_fast_sql(c: dict[str, str]) -> str:
    """`ItemRows.fast_record` in SQL (the dates apart: the calendar join), never more
    lenient: true only for a row that check accepts as it is (an empty cell is NULL here,
    '' there). Casts sit behind CASE, as the planner may evaluate AND's operands in any
    order; each test is the cheapest one found that is exact."""
    return " AND ".join((
        f"{c['client_code']} ~ '^[-A-Za-z0-9._]+$' AND length({c['client_code']}) <= 100",
        # no surrounding white space: the first and last characters are visible ASCII
        f"ascii({c['number']}) BETWEEN 33 AND 126 AND ascii(right({c['number']}, 1)) BETWEEN 33 AND 126"
        f" AND length({c['number']}) <= 100",
        f"CASE WHEN {_sql_amount(c['amount'])} THEN {c['amount']}::numeric <> 0 ELSE false END",
        f"({c['kind']} IS NULL OR {c['kind']} IN ({', '.join(repr(k) for k in ITEM_KINDS)}))",
        f"({c['issue_date']} IS NULL OR issued.day IS NOT NULL)",
        f"({c['open_amount']} IS NULL OR CASE WHEN {_sql_amount(c['open_amount'])}"
        f" AND {_sql_amount(c['amount'])}"
        f" THEN {c['open_amount']}::numeric <= {c['amount']}::numeric ELSE false END)",
        # the platform's currency first: it spares most rows the pattern
        f"({c['currency']} IS NULL OR {c['currency']} = 'EUR' OR {c['currency']} ~ '^[A-Z][A-Z][A-Z]$')",
    ))


async def _csv_chunks(body: CsvBody, counted: list[int], progress: Progress | None) -> AsyncIterator[bytes]:
    while chunk := body.stream.read(CSV_CHUNK):
        # A quote is read differently by PostgreSQL (anywhere in a cell) and by the csv
        # module (at the start of one only): such a file takes the row-by-row path.
        if '"' in chunk:
            raise _Declined("quoted cells")
        counted[0] += chunk.count("\n")
        counted[1] = int(chunk[-1] != "\n")
        if progress:
            progress(counted[0])
        yield chunk.encode()


async def _stage_items_csv(conn: asyncpg.Connection, body: CsvBody, checker: RowChecker,
                           report: ImportReport, progress: Progress | None) -> bool:
    """Stage the items of a CSV file set-based; False (nothing staged, the stream back
    where it was) when the file must be read row by row: quoted cells, a row with another
    number of cells than the header, a blank line, a stray carriage return."""
    columns = body.columns
    if len(columns) < 2:
        return False
    counted: list[int] = [0, 0]  # line feeds, whether the last line has none
    try:
        async with conn.transaction():  # a savepoint: a declined file leaves nothing behind
            await conn.execute(
                f"CREATE TEMP TABLE {RAW} (row_no integer GENERATED ALWAYS AS IDENTITY"
                f" (START WITH 2), {', '.join(f'c{i} text' for i in range(len(columns)))})"
                " ON COMMIT DROP"
            )
            status = await conn.copy_to_table(
                RAW, source=_csv_chunks(body, counted, progress), format="csv",
                delimiter=body.delimiter, columns=[f"c{i}" for i in range(len(columns))],
            )
            copied = int(status.split()[-1])
            # Without quotes one line is one record; any other count is a line that COPY
            # read otherwise than the csv module (a lone carriage return ends a line there).
            if copied != counted[0] + counted[1]:
                raise _Declined("line count")
    except (_Declined, asyncpg.PostgresError):
        body.stream.seek(body.start)
        return False
    report.rows_read = copied
    if progress:
        progress(copied)
    await conn.execute(
        f"CREATE TEMP TABLE {CALENDAR} ON COMMIT DROP AS SELECT d::date AS day,"
        f" to_char(d, 'YYYY-MM-DD') AS iso FROM generate_series("
        f"'{CALENDAR_YEARS[0]}-01-01'::date, '{CALENDAR_YEARS[1]}-12-31'::date, '1 day') d"
    )
    await conn.execute(f"ANALYZE {CALENDAR}")
    c = _item_cells(columns)
    status = await conn.execute(
        f"""
        INSERT INTO {STAGE} (row_no, client_code, kind, number, issue_date, due_date, amount,
                             open_amount, currency)
        SELECT r.row_no, {c['client_code']}, COALESCE({c['kind']}, 'invoice'), {c['number']},
               issued.day, due.day, {c['amount']}::numeric,
               {c['open_amount']}::numeric, COALESCE({c['currency']}, 'EUR')
        FROM {RAW} r JOIN {CALENDAR} due ON due.iso = {c['due_date']}
        LEFT JOIN {CALENDAR} issued ON issued.iso = {c['issue_date']}
        WHERE {_items_fast_sql(c)}
        """
    )
    errors: list[RowError] = []
    if int(status.split()[-1]) < copied:
        others = await conn.fetch(
            f"SELECT r.* FROM {RAW} r WHERE NOT EXISTS"
            f" (SELECT 1 FROM {STAGE} s WHERE s.row_no = r.row_no) ORDER BY r.row_no"
        )
        records = []
        for row in others:
            # The csv module's reading of the row: every header column, '' when empty.
            raw = {name: row[f"c{i}"] or "" for i, name in enumerate(columns)}
            checked = checker.convert(row["row_no"], raw)
            if type(checked) is tuple:
                records.append(checked)
            else:
                errors += checked
        await conn.copy_records_to_table(STAGE, records=records, columns=list(checker.stage_columns))
    # A key repeated in the file: its first valid row is imported, the others are errors.
    repeated = await conn.fetch(
        f"""
        WITH first AS (
            SELECT client_code, kind, number, min(row_no) AS row_no FROM {STAGE}
            GROUP BY client_code, kind, number HAVING count(*) > 1
        )
        DELETE FROM {STAGE} s USING first f
        WHERE s.client_code = f.client_code AND s.kind = f.kind AND s.number = f.number
          AND s.row_no > f.row_no
        RETURNING s.row_no, f.row_no AS first
        """
    )
    errors += [RowError(r["row_no"], checker.key_field, duplicate_reason(r["first"])) for r in repeated]
    errors.sort(key=lambda e: e.row)  # in file order, as the row-by-row path reports them
    report.add_errors(errors)
    return True


class _Context:
    def __init__(self, conn: asyncpg.Connection, import_id: UUID, actor: str, report: ImportReport,
                 say: Phase) -> None:
        self.say = say
        self.conn = conn
        self.import_id = import_id
        self.actor = actor
        self.report = report
        # Every event of one import carries the same instant.
        self.occurred_at = datetime.now(UTC)
        self.rejected = 0  # staged rows the database-side checks took out

    async def reject(self, sql: str, field: str, reason: Callable[[asyncpg.Record], str], *args) -> int:
        """Run `sql` (a `DELETE FROM import_stage … RETURNING row_no, value` as CTE `bad`)
        and report its rows as errors on `field`; returns how many there were."""
        rows = await self.conn.fetch(
            f"WITH bad AS ({sql}) SELECT row_no, value, count(*) OVER () AS total"
            f" FROM bad ORDER BY row_no LIMIT {MAX_REPORTED_ERRORS}",
            *args,
        )
        if not rows:
            return 0
        total = rows[0]["total"]
        self.rejected += total
        self.report.add_errors(RowError(r["row_no"], field, reason(r)) for r in rows)
        # Errors past the reported cap still count.
        self.report.error_count += total - len(rows)
        return total

    async def emit(self, model: type[EventPayload], source_sql: str, payload_sql: str,
                   *, aggregate_sql: str, client_sql: str, args: tuple = ()) -> int:
        """One outbox row per row of `source_sql` (`relance.outbox.write_events_from_rows`)."""
        return await write_events_from_rows(
            self.conn, model, source_sql, payload_sql, aggregate_sql=aggregate_sql,
            client_sql=client_sql, actor=self.actor, args=args, occurred_at=self.occurred_at)

    async def audit(self, source_sql: str, *, client_sql: str, action: str, entity: str,
                    entity_id_sql: str, details_sql: str, args: tuple = ()) -> None:
        """F-33: one audit entry per client touched, set-based."""
        await record_audit_rows(
            self.conn,
            f"SELECT {client_sql}, $1, $2, $3, {entity_id_sql}, 'ERP import', {details_sql}"
            f" FROM {source_sql}",
            self.actor, action, entity, *args,
        )


# ---- clients --------------------------------------------------------------------------

# Attributes an import may change. An empty cell keeps the current value: an ERP export
# that leaves a column out must not erase what the platform knows.
_KEEP_IF_EMPTY = ("country", "segment", "category", "tags", "risk", "scenario_code", "locale")


async def _import_clients(ctx: _Context) -> None:
    conn, report = ctx.conn, ctx.report
    ctx.say("checking collector codes")
    await ctx.reject(
        f"DELETE FROM {STAGE} s WHERE s.collector_code IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM collectors k WHERE k.code = s.collector_code)"
        " RETURNING s.row_no, s.collector_code AS value",
        "collector_code", lambda r: f"unknown collector code {r['value']!r}",
    )
    # Issue 10 (F-9): an unknown scenario is refused when it is given, not found missing
    # when the client's dossier is planned.
    ctx.say("checking scenario codes")
    await ctx.reject(
        f"DELETE FROM {STAGE} s WHERE s.scenario_code IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM scenarios sc WHERE sc.code = s.scenario_code)"
        " RETURNING s.row_no, s.scenario_code AS value",
        "scenario_code", lambda r: f"unknown scenario code {r['value']!r}",
    )
    await conn.execute(
        "CREATE TEMP TABLE import_client_changes (client_id uuid, code text, changed jsonb,"
        " audit jsonb) ON COMMIT DROP"
    )
    ctx.say("upserting clients")
    new_values = {"name": "s.name", **{c: f"COALESCE(s.{c}, o.{c})" for c in _KEEP_IF_EMPTY}}
    columns = list(new_values)
    changed_json = ", ".join(
        f"'{c}', CASE WHEN c.{c} IS DISTINCT FROM o.{c} THEN to_jsonb(c.{c}) END" for c in columns
    )
    audit_json = ", ".join(
        f"'{c}', CASE WHEN c.{c} IS DISTINCT FROM o.{c}"
        f" THEN jsonb_build_object('from', o.{c}, 'to', c.{c}) END" for c in columns
    )
    # `o` is the row as it was (the statement's snapshot), `c` the row as updated.
    await conn.execute(
        f"""
        WITH changed AS (
            UPDATE clients c SET {", ".join(f"{c} = {v}" for c, v in new_values.items())},
                   version = o.version + 1, updated_at = now()
            FROM {STAGE} s JOIN clients o ON o.code = s.code
            WHERE c.id = o.id
              AND ({", ".join(f"o.{c}" for c in columns)})
                  IS DISTINCT FROM ({", ".join(new_values.values())})
            RETURNING c.id, c.code, jsonb_strip_nulls(jsonb_build_object({changed_json})) AS changed,
                      jsonb_strip_nulls(jsonb_build_object({audit_json})) AS audit
        )
        INSERT INTO import_client_changes SELECT id, code, changed, audit FROM changed
        """
    )
    # A collector code that differs from the client's collector: the assignment path,
    # which records the change and tells the agendas (F-8).
    moves = await conn.fetch(
        f"SELECT c.id, k.id AS collector_id FROM {STAGE} s JOIN clients c ON c.code = s.code"
        " JOIN collectors k ON k.code = s.collector_code"
        " WHERE c.collector_id IS DISTINCT FROM k.id"
    )
    await apply_assignments(
        conn, [Assignment(m["id"], m["collector_id"], "ERP import") for m in moves],
        actor=ctx.actor, source="import",
    )
    await conn.execute(
        "CREATE TEMP TABLE import_new_clients (client_id uuid, code text, name text,"
        " scenario_code text, dossier_id uuid) ON COMMIT DROP"
    )
    # F-2: every new client gets its active dossier, as through the client API.
    await conn.execute(
        f"""
        WITH added AS (
            INSERT INTO clients (id, code, name, country, segment, category, tags, risk,
                                 collector_id, scenario_code, locale)
            SELECT gen_random_uuid(), s.code, s.name, s.country, s.segment, s.category,
                   COALESCE(s.tags, '{{}}'), s.risk, k.id, s.scenario_code, COALESCE(s.locale, 'fr')
            FROM {STAGE} s LEFT JOIN collectors k ON k.code = s.collector_code
            WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.code = s.code)
            ORDER BY s.row_no
            ON CONFLICT (code) DO NOTHING
            RETURNING id, code, name, scenario_code
        ), with_dossier AS (
            -- Each new client's dossier id drawn here, so nothing joins the two inserts back
            -- (a join of two CTEs has no statistics: nested loops over 100k × 100k rows).
            SELECT id, code, name, scenario_code, gen_random_uuid() AS dossier_id FROM added
        ), opened AS (
            INSERT INTO dossiers (id, client_id, kind, state)
            SELECT dossier_id, id, 'active', 'open' FROM with_dossier
        )
        INSERT INTO import_new_clients
        SELECT id, code, name, scenario_code, dossier_id FROM with_dossier
        """
    )
    await ctx.emit(
        ClientCreated, "import_new_clients n JOIN clients c ON c.id = n.client_id",
        "jsonb_build_object('client_id', n.client_id, 'code', n.code, 'name', n.name,"
        " 'collector_id', c.collector_id)",
        aggregate_sql="n.client_id", client_sql="n.client_id",
    )
    await ctx.emit(
        DossierOpened, "import_new_clients n",
        "jsonb_build_object('dossier_id', n.dossier_id, 'client_id', n.client_id,"
        " 'client_code', n.code, 'kind', 'active', 'scenario_code', n.scenario_code)",
        aggregate_sql="n.dossier_id", client_sql="n.client_id",
    )
    await ctx.audit("import_new_clients n", client_sql="n.client_id", action="create",
                    entity="client", entity_id_sql="n.code",
                    details_sql="jsonb_build_object('import_id', $4::uuid)", args=(ctx.import_id,))
    await ctx.emit(
        ClientUpdated, "import_client_changes x",
        "jsonb_build_object('client_id', x.client_id, 'code', x.code, 'changed', x.changed)",
        aggregate_sql="x.client_id", client_sql="x.client_id",
    )
    await ctx.audit("import_client_changes x", client_sql="x.client_id", action="update",
                    entity="client", entity_id_sql="x.code",
                    details_sql="jsonb_build_object('import_id', $4::uuid, 'changed', x.audit)",
                    args=(ctx.import_id,))
    new_ids = [r["client_id"] for r in await conn.fetch("SELECT client_id FROM import_new_clients")]
    # F-6: the assignment rules and the default collector, for new clients without one.
    await assign_new_clients(conn, new_ids, ctx.actor)

    report.inserted = len(new_ids)
    report.updated = await conn.fetchval(
        "SELECT count(*) FROM (SELECT client_id FROM import_client_changes"
        " UNION SELECT unnest($1::uuid[])) u",
        [m["id"] for m in moves],
    )


# ---- items ----------------------------------------------------------------------------

async def skip_foreign_key_rechecks(conn: asyncpg.Connection) -> bool:
    """The item upsert takes each item's client and active dossier from a join, under the
    import lock, and neither clients nor dossiers are ever deleted: the per-row foreign-key
    checks only re-prove what the join proved, and they are most of the insert's time
    (about 30 s of 47 s for a million items). They are skipped for that one statement when
    the role may set `session_replication_role` (a superuser, or PostgreSQL's
    `GRANT SET ON PARAMETER session_replication_role TO <role>`); otherwise they run."""
    try:
        async with conn.transaction():  # a savepoint: a refusal must not end the import
            await conn.execute("SET LOCAL session_replication_role = replica")
        return True
    except asyncpg.InsufficientPrivilegeError:
        return False


async def _import_items(ctx: _Context) -> None:
    conn, report = ctx.conn, ctx.report
    ctx.say("checking client codes")
    await ctx.reject(
        f"DELETE FROM {STAGE} s WHERE NOT EXISTS (SELECT 1 FROM clients c JOIN dossiers d"
        " ON d.client_id = c.id AND d.kind = 'active' WHERE c.code = s.client_code)"
        " RETURNING s.row_no, s.client_code AS value",
        "client_code", lambda r: f"unknown client {r['value']!r} (import the clients first)",
    )
    await conn.execute(
        "CREATE TEMP TABLE import_touched (client_id uuid, inserted int, updated int,"
        " numbers text[]) ON COMMIT DROP"
    )
    ctx.say("upserting items")
    # The items already there, found once: the update and the insert below each joined
    # the staged rows with the whole items table (twice its scan, which grows with every
    # nightly file); now the update joins by primary key and the insert leaves out these.
    await conn.execute(
        f"CREATE TEMP TABLE import_matched ON COMMIT DROP AS SELECT s.row_no, i.id AS item_id"
        f" FROM {STAGE} s JOIN clients c ON c.code = s.client_code"
        " JOIN items i ON i.client_id = c.id AND i.kind = s.kind AND i.number = s.number"
    )
    await conn.execute("ANALYZE import_matched")
    rechecks_skipped = await skip_foreign_key_rechecks(conn)
    # New ids are time-ordered (uuidv7, PostgreSQL 18): a million new items then append to
    # the primary-key index instead of touching random pages of it.
    # An omitted open amount is the whole amount on insert; on update what was already
    # paid stays paid (open = new amount - paid, never below 0). Items stay in their dossier (active or transfer).
    await conn.execute(
        f"""
        WITH changed AS (
            UPDATE items i SET issue_date = COALESCE(s.issue_date, i.issue_date),
                   due_date = s.due_date, amount = s.amount,
                   open_amount = COALESCE(s.open_amount, GREATEST(s.amount - (i.amount - i.open_amount), 0)),
                   currency = s.currency, updated_at = now()
            FROM import_matched m JOIN {STAGE} s ON s.row_no = m.row_no
            WHERE i.id = m.item_id
              AND (i.issue_date, i.due_date, i.amount, i.open_amount, i.currency::text)
                  IS DISTINCT FROM (COALESCE(s.issue_date, i.issue_date), s.due_date, s.amount,
                                    COALESCE(s.open_amount, GREATEST(s.amount - (i.amount - i.open_amount), 0)),
                                    s.currency)
            RETURNING i.client_id, i.number, false AS inserted
        ), added AS (
            INSERT INTO items (id, client_id, dossier_id, kind, number, issue_date, due_date,
                               amount, open_amount, currency)
            SELECT uuidv7(), c.id, d.id, s.kind, s.number, s.issue_date, s.due_date,
                   s.amount, COALESCE(s.open_amount, s.amount), s.currency
            FROM {STAGE} s JOIN clients c ON c.code = s.client_code
            JOIN dossiers d ON d.client_id = c.id AND d.kind = 'active'
            WHERE NOT EXISTS (SELECT 1 FROM import_matched m WHERE m.row_no = s.row_no)
            -- In key order, the unique index and the foreign-key checks touch each page
            -- once in turn instead of at random.
            -- No ON CONFLICT: its speculative insertion costs a third more per row; imports
            -- are serialised by the advisory lock, and an item created meanwhile through
            -- the API fails the import whole (nothing half-written): run it again.
            ORDER BY c.id, s.kind, s.number
            RETURNING client_id, number, true AS inserted
        ), touched AS (
            SELECT * FROM changed UNION ALL SELECT * FROM added
        )
        INSERT INTO import_touched
        SELECT client_id, count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
               (array_agg(number))[1:{NUMBERS_CAP + 1}]
        FROM touched GROUP BY client_id
        """
    )
    if rechecks_skipped:
        await conn.execute("SET LOCAL session_replication_role = origin")
    ctx.say("writing events and audit")
    touched = "import_touched t JOIN dossiers d ON d.client_id = t.client_id AND d.kind = 'active'"
    await ctx.emit(
        ItemBatchImported, touched,
        f"jsonb_build_object('import_id', $6::uuid, 'client_id', t.client_id,"
        f" 'dossier_id', d.id, 'inserted', t.inserted, 'updated', t.updated,"
        f" 'item_numbers', to_jsonb(t.numbers[1:{NUMBERS_CAP}]),"
        f" 'item_numbers_truncated', cardinality(t.numbers) > {NUMBERS_CAP})",
        aggregate_sql="d.id", client_sql="t.client_id", args=(ctx.import_id,),
    )
    await ctx.audit("import_touched t JOIN clients c ON c.id = t.client_id",
                    client_sql="t.client_id", action="import", entity="items",
                    entity_id_sql="c.code",
                    details_sql="jsonb_build_object('import_id', $4::uuid, 'inserted', t.inserted,"
                                " 'updated', t.updated)",
                    args=(ctx.import_id,))
    counts = await conn.fetchrow(
        "SELECT COALESCE(sum(inserted), 0)::int AS inserted, COALESCE(sum(updated), 0)::int AS updated,"
        " count(*)::int AS clients FROM import_touched"
    )
    report.inserted, report.updated = counts["inserted"], counts["updated"]
    report.details = {"clients_touched": counts["clients"],
                      "foreign_key_rechecks_skipped": rechecks_skipped}


# ---- payments -------------------------------------------------------------------------

async def _import_payments(ctx: _Context) -> None:
    conn, report = ctx.conn, ctx.report
    ctx.say("checking clients, items and references")
    await ctx.reject(
        f"DELETE FROM {STAGE} s WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.code = s.client_code)"
        " RETURNING s.row_no, s.client_code AS value",
        "client_code", lambda r: f"unknown client {r['value']!r}",
    )
    await ctx.reject(
        f"DELETE FROM {STAGE} s WHERE NOT EXISTS (SELECT 1 FROM clients c JOIN items i"
        " ON i.client_id = c.id WHERE c.code = s.client_code AND i.kind = s.item_kind"
        " AND i.number = s.item_number)"
        " RETURNING s.row_no, s.item_kind || ' ' || s.item_number AS value",
        "item_number", lambda r: f"the client has no {r['value']}",
    )
    # A reference already applied: the same payment again changes nothing; the same
    # reference with another item, amount or date is an error.
    await ctx.reject(
        f"DELETE FROM {STAGE} s USING import_payments p, clients c, items i"
        " WHERE p.reference = s.reference AND c.code = s.client_code AND i.client_id = c.id"
        " AND i.kind = s.item_kind AND i.number = s.item_number"
        " AND (p.item_id, p.amount, p.paid_on) IS DISTINCT FROM (i.id, s.amount, s.paid_on)"
        " RETURNING s.row_no, s.reference AS value",
        "reference", lambda r: f"payment {r['value']!r} was already applied with another item, amount or date",
    )
    # The same payments again: left out, they count as unchanged.
    await conn.execute(
        f"DELETE FROM {STAGE} s USING import_payments p WHERE p.reference = s.reference"
    )
    await conn.execute(
        "CREATE TEMP TABLE import_paid (reference text, client_id uuid, item_id uuid,"
        " applied numeric(18,2)) ON COMMIT DROP"
    )
    ctx.say("applying payments")
    # Several payments on one item are applied in date order; each takes what the open
    # amount can still absorb, so an open amount never goes below 0.
    await conn.execute(
        f"""
        WITH target AS (
            SELECT s.*, c.id AS client_id, i.id AS item_id, i.open_amount
            FROM {STAGE} s JOIN clients c ON c.code = s.client_code
            JOIN items i ON i.client_id = c.id AND i.kind = s.item_kind AND i.number = s.item_number
            FOR UPDATE OF i
        ), ordered AS (
            SELECT *, COALESCE(sum(amount) OVER (PARTITION BY item_id ORDER BY paid_on, row_no
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
            FROM target
        ), recorded AS (
            INSERT INTO import_payments (reference, client_id, item_id, amount, applied_amount,
                                         paid_on, import_id)
            SELECT reference, client_id, item_id, amount,
                   GREATEST(LEAST(amount, open_amount - before), 0), paid_on, $1
            FROM ordered
            ON CONFLICT (reference) DO NOTHING
            RETURNING reference, client_id, item_id, applied_amount
        )
        INSERT INTO import_paid SELECT * FROM recorded
        """,
        ctx.import_id,
    )
    await conn.execute(
        "CREATE TEMP TABLE import_lowered (client_id uuid, number text, settled boolean)"
        " ON COMMIT DROP"
    )
    await conn.execute(
        """
        WITH lowered AS (
            UPDATE items i SET open_amount = GREATEST(i.open_amount - p.total, 0), updated_at = now()
            FROM (SELECT item_id, sum(applied) AS total FROM import_paid GROUP BY item_id) p
            WHERE i.id = p.item_id AND p.total > 0
            RETURNING i.client_id, i.number, i.open_amount = 0 AS settled
        )
        INSERT INTO import_lowered SELECT * FROM lowered
        """
    )
    per_client = f"""(
        SELECT p.client_id, count(*) AS payments, sum(p.applied) AS applied,
               (array_agg(p.reference ORDER BY p.reference))[1:{NUMBERS_CAP + 1}] AS refs,
               (SELECT array_agg(l.number ORDER BY l.number) FROM import_lowered l
                 WHERE l.client_id = p.client_id) AS numbers,
               (SELECT array_agg(l.number ORDER BY l.number) FROM import_lowered l
                 WHERE l.client_id = p.client_id AND l.settled) AS settled
        FROM import_paid p GROUP BY p.client_id
    ) t JOIN dossiers d ON d.client_id = t.client_id AND d.kind = 'active'"""
    await ctx.emit(
        ItemPaymentsApplied, per_client,
        f"jsonb_build_object('import_id', $6::uuid, 'client_id', t.client_id, 'dossier_id', d.id,"
        f" 'payments', t.payments, 'amount_applied', t.applied::text,"
        f" 'item_numbers', to_jsonb(COALESCE(t.numbers[1:{NUMBERS_CAP}], '{{}}')),"
        f" 'settled_item_numbers', to_jsonb(COALESCE(t.settled[1:{NUMBERS_CAP}], '{{}}')),"
        f" 'references', to_jsonb(t.refs[1:{NUMBERS_CAP}]),"
        f" 'truncated', cardinality(t.refs) > {NUMBERS_CAP}"
        f" OR COALESCE(cardinality(t.numbers), 0) > {NUMBERS_CAP})",
        aggregate_sql="d.id", client_sql="t.client_id", args=(ctx.import_id,),
    )
    await ctx.audit(
        "(SELECT client_id, count(*) AS payments, sum(applied) AS applied FROM import_paid"
        " GROUP BY client_id) t JOIN clients c ON c.id = t.client_id",
        client_sql="t.client_id", action="apply_payments", entity="items", entity_id_sql="c.code",
        details_sql="jsonb_build_object('import_id', $4::uuid, 'payments', t.payments,"
                    " 'amount_applied', t.applied::text)",
        args=(ctx.import_id,),
    )
    totals = await conn.fetchrow(
        "SELECT count(*)::int AS payments, COALESCE(sum(applied), 0)::text AS applied FROM import_paid"
    )
    lowered = await conn.fetchrow(
        "SELECT count(*)::int AS lowered, count(*) FILTER (WHERE settled)::int AS settled FROM import_lowered"
    )
    report.inserted = totals["payments"]
    report.details = {
        "amount_applied": totals["applied"],
        "items_lowered": lowered["lowered"],
        "items_settled": lowered["settled"],
    }
