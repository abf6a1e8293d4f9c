"""The `relance` command: `relance up` runs the whole platform on the embedded stack;
`relance migrate` and `relance topics` prepare real servers."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from relance.settings import CommonSettings

EXIT_CODES = """exit status:
  0  done
  1  failed (a refused import, a database that refuses the login, a process that keeps crashing)
  2  wrong usage (an unknown command or option)
  3  import: some rows were rejected (the valid ones are kept)
  4  a server is unreachable (the database or the Kafka broker): one line says which
"""
EXIT_UNREACHABLE = 4


def _migrate(database_url: str) -> list[str]:
    from relance_devstack.migrate import upgrade_all

    return upgrade_all(database_url)


def cmd_migrate(_: argparse.Namespace) -> int:
    schemas = _migrate(CommonSettings().database_url)
    print(f"database schemas are up to date: {', '.join(schemas)}")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    """`relance outbox parked | replay`: the outbox rows the relay parked, in every schema
    it publishes, and putting them back in line."""
    from relance.db import create_pool
    from relance.outbox import parked_rows, replay_parked
    from relance.relay import RelaySettings

    settings = RelaySettings()

    async def run() -> int:
        for schema in settings.outbox_schemas:
            pool = await create_pool(settings.database_url, schema=schema, max_size=1)
            try:
                if args.action == "parked":
                    for row in await parked_rows(pool, limit=args.limit):
                        print(f"{schema}\t{row['id']}\t{row['event_type']}\t{row['size_bytes']} bytes"
                              f"\t{row['attempts']} attempts\t{row['parked_at']:%Y-%m-%d %H:%M:%S}"
                              f"\t{row['last_error']}")
                else:
                    replayed = await replay_parked(pool, args.id or None)
                    print(f"{schema}: {replayed} parked rows put back in line")
            finally:
                await pool.close()
        return 0

    return asyncio.run(run())


# The schemas of the services that consume Kafka messages, each with its dead letters.
DEAD_LETTER_SCHEMAS = ("workflow", "notifier", "gateway", "dossier")


def cmd_dead_letters(args: argparse.Namespace) -> int:
    """`relance dead-letters list | replay`: the messages each consumer parked after its
    retries (or could not read), and re-publishing them to their topic."""
    from relance.db import create_pool
    from relance.dead_letters import list_dead_letters, replay_dead_letters
    from relance.kafka import new_producer

    settings = CommonSettings()
    if args.id and not args.service:
        print("--id names a dead letter of one service: give --service too", file=sys.stderr)
        return 2
    schemas = [args.service] if args.service else list(DEAD_LETTER_SCHEMAS)

    async def run() -> int:
        producer = None
        if args.action == "replay":
            producer = new_producer(settings.kafka_bootstrap_servers)
            await producer.start()
        try:
            for schema in schemas:
                pool = await create_pool(settings.database_url, schema=schema, max_size=1)
                try:
                    if args.action == "list":
                        for row in await list_dead_letters(
                                pool, include_replayed=args.all, limit=args.limit):
                            replayed = f"replayed {row['replayed_at']:%Y-%m-%d %H:%M:%S}" \
                                if row["replayed_at"] else "waiting"
                            print(f"{schema}\t{row['id']}\t{row['topic']}[{row['partition']}]@{row['offset']}"
                                  f"\tkey={row['key']}\t{row['event_type'] or '-'}\t{row['event_id'] or '-'}"
                                  f"\t{row['attempts']} attempts\t{row['created_at']:%Y-%m-%d %H:%M:%S}"
                                  f"\t{replayed}\t{row['error']}")
                    else:
                        count = await replay_dead_letters(pool, producer, args.id or None)
                        print(f"{schema}: {count} dead letters re-published to their topic")
                finally:
                    await pool.close()
        finally:
            if producer is not None:
                await producer.stop()
        return 0

    return asyncio.run(run())


def cmd_asyncapi(args: argparse.Namespace) -> int:
    """Write the AsyncAPI document of every topic and event (generated from the event
    models); `--check` exits 1 when the file differs from the models instead."""
    from relance.asyncapi import render_yaml

    text = render_yaml()
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    if args.check:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            print(f"{path} is out of date: run `relance asyncapi`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def cmd_topics(_: argparse.Namespace) -> int:
    from relance.kafka import ensure_topics

    asyncio.run(ensure_topics(CommonSettings().kafka_bootstrap_servers))
    print("topics exist")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """ERP import of clients, items or payments (F-3), with a progress bar. Exit status:
    0 every row imported, 3 some rows rejected (the valid ones are kept), 1 unreadable file."""
    from tqdm import tqdm

    from relance_dossier.domain.accounts import DomainError
    from relance_dossier.persistence.imports import import_path

    path = Path(args.file)
    if not path.is_file():
        print(f"no such file: {path}", file=sys.stderr)
        return 1
    bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc="reading", file=sys.stderr)

    def progress(rows: int, read_bytes: int) -> None:
        bar.update(read_bytes - bar.n)
        bar.set_postfix(rows=rows)

    def phase(name: str) -> None:
        bar.set_description(name)

    try:
        import_id, fmt, report = asyncio.run(import_path(
            CommonSettings().database_url, path, kind=args.kind, fmt=args.format,
            actor=f"import:{path.name}", progress=progress, phase=phase,
        ))
    except DomainError as exc:
        bar.close()
        print(f"import refused: {exc.field}: {exc.reason}", file=sys.stderr)
        return 1
    bar.update(bar.total - bar.n)
    bar.close()
    print(f"{report.kind} ({fmt}) import {import_id}: {report.rows_read} rows read,"
          f" {report.inserted} inserted, {report.updated} updated, {report.unchanged} unchanged,"
          f" {report.error_count} rejected")
    for error in report.errors[: args.show_errors]:
        print(f"  row {error.row}: {error.field or '-'}: {error.reason}")
    if report.error_count > args.show_errors:
        print(f"  … {report.error_count - args.show_errors} more (see import_runs {import_id})")
    return 3 if report.error_count else 0


class _Stop(Exception):
    pass


def cmd_up(args: argparse.Namespace) -> int:
    from relance.kafka import ensure_topics
    from relance_devstack.demo import load_demo, load_demo_users
    from relance_devstack.embedded import EmbeddedStack, StackPorts
    from relance_devstack.mailsink import start_mail_sink
    from relance_devstack.supervisor import SERVICES, KeepsCrashing, Supervisor

    def stop_signal(*_: object) -> None:
        raise _Stop

    signal.signal(signal.SIGTERM, stop_signal)
    signal.signal(signal.SIGINT, stop_signal)

    data_dir = Path(args.data_dir).resolve()
    started = time.monotonic()
    stack = EmbeddedStack(
        data_dir,
        StackPorts(broker=args.broker_port, temporal=args.temporal_port, temporal_ui=args.temporal_ui_port),
    )
    supervisor: Supervisor | None = None
    mail_sink = None
    try:
        print(f"Starting PostgreSQL, the Kafka-protocol broker and Temporal under {data_dir} …", flush=True)
        stack.start()
        _migrate(stack.database_url)
        asyncio.run(ensure_topics(stack.kafka_bootstrap_servers))
        mail_sink = start_mail_sink(data_dir / "mail", args.smtp_port)
        ports = {spec.name: getattr(args, _port_option(spec.name)) for spec in SERVICES}
        admin_token = _admin_token(data_dir)
        agency_key, agency_secret = _demo_agency_credentials(data_dir)
        supervisor = Supervisor(
            {**stack.env(), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(args.smtp_port),
             "BOOTSTRAP_ADMIN_TOKEN": admin_token},
            stack.logs_dir,
            ports=ports,
            demo_agency_key=agency_key,
            demo_agency_secret=agency_secret,
            # A short transfer window lets a demo show a placement without waiting a day.
            extra_env={service: {"TRANSFER_WINDOW_SECONDS": str(args.transfer_window)}
                       for service in ("workflow", "dossier")}
            if args.transfer_window else {},
        )
        print("Starting the outbox relay, the four services, the console and the agency simulator …", flush=True)
        supervisor.start_all()
        if not args.no_demo:
            created = load_demo(supervisor.running["dossier"].url, admin_token)
            print(f"Demo data loaded ({created} new clients).", flush=True)
            demo_users = load_demo_users(supervisor.running["dossier"].url, admin_token)
        else:
            demo_users = []
        _print_urls(stack, supervisor, data_dir, args.smtp_port, admin_token, time.monotonic() - started,
                    demo_users, transfer_window=args.transfer_window)
        # A process that dies is restarted with backoff; one that keeps crashing stops all.
        while True:
            try:
                supervisor.supervise(report=lambda line: print(line, file=sys.stderr, flush=True))
            except KeepsCrashing as exc:
                print(f"!! {exc}", file=sys.stderr, flush=True)
                return 1
            time.sleep(1)
    except (_Stop, KeyboardInterrupt):
        print("\nStopping …", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if supervisor is not None:
            supervisor.stop_all()
        if mail_sink is not None:
            mail_sink.stop()
        stack.stop()
        print("Relance stopped; state kept in", data_dir, flush=True)


def _admin_token(data_dir: Path) -> str:
    """The local admin's API token: made once, kept in the data dir (readable by you only)."""
    from relance_dossier.api.auth import new_token

    path = data_dir / "admin-token"
    if not path.exists():
        path.write_text(new_token())
        path.chmod(0o600)
    return path.read_text().strip()


def _demo_agency_credentials(data_dir: Path) -> tuple[str, str]:
    """The demo agency's API key and signing secret: made once, kept in the data dir
    (readable by you only), so a restart keeps them and the agency's key still works."""
    import base64
    import json
    import secrets

    path = data_dir / "demo-agency.json"
    if path.exists():
        kept = json.loads(path.read_text())
        return kept["api_key"], kept["signing_secret"]
    credentials = {
        "api_key": f"ak_demo_{secrets.token_urlsafe(24)}",
        # A Standard Webhooks secret (whsec_ + base64), as the gateway issues them (F-31).
        "signing_secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(credentials, indent=2) + "\n")
    path.chmod(0o600)
    return credentials["api_key"], credentials["signing_secret"]


def _transfer_window(seconds: float | None) -> str:
    """The transfer cancellation window in force, for the banner."""
    if not seconds:
        return "24 h (the default; --transfer-window SECONDS for a demo)"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{int(hours)} h" if hours else "", f"{int(minutes)} min" if minutes else "",
             f"{secs:g} s" if secs else ""]
    return f"{' '.join(p for p in parts if p)} (--transfer-window {seconds:g})"


def _print_urls(stack, supervisor, data_dir: Path, smtp_port: int, admin_token: str, seconds: float,
                demo_users: Sequence[tuple[str, str, str]] = (), transfer_window: float | None = None) -> None:
    running = supervisor.running
    users = "".join(
        f"\n                      {name:<13} {password:<18} ({role})" for name, role, password in demo_users
    )
    print(
        f"""
  Console             {running['console'].url}{users}
  Admin API token     {admin_token}
                      (kept in {data_dir / 'admin-token'}; send as "Authorization: Bearer …")

  Dossier API         {running['dossier'].url}/docs
  Transfer gateway    {running['transfer-gateway'].url}/docs
  Notifier            {running['notifier'].url}/health   (metrics: /metrics)
  Workflow worker     {running['workflow'].url}/health   (metrics: /metrics)
  Outbox relay        {running['relay'].url}/health   (metrics: /metrics)
  Agency simulator    {running['agency-simulator'].url}/received   (policy: /policy)
  Demo agency         {supervisor.demo_agency_code}: X-Agency-Key {supervisor.demo_agency_key}
                      signing secret {supervisor.demo_agency_secret}
                      (kept in {data_dir / 'demo-agency.json'})
  Transfer window     {_transfer_window(transfer_window)}
  Temporal Web UI     {stack.temporal_ui_url}
  Temporal gRPC       {stack.temporal_address}
  Kafka broker        {stack.kafka_bootstrap_servers}
  PostgreSQL          {stack.database_url}
  SMTP sink           127.0.0.1:{smtp_port} → {data_dir / 'mail'}
  Logs                {stack.logs_dir}

Relance is up ({seconds:.0f}s). Ctrl-C stops everything.
""",
        flush=True,
    )


def _port_option(service: str) -> str:
    return f"{service.replace('-', '_')}_port"


def build_parser() -> argparse.ArgumentParser:
    from relance_devstack.supervisor import SERVICES

    parser = argparse.ArgumentParser(
        prog="relance", description=__doc__, epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole platform on the embedded stack")
    up.add_argument("--data-dir", default=".relance", help="where state lives (default .relance)")
    up.add_argument("--no-demo", action="store_true", help="do not load demo data")
    for spec in SERVICES:
        up.add_argument(f"--{spec.name}-port", dest=_port_option(spec.name), type=int,
                        default=spec.default_port, help=f"(default {spec.default_port})")
    up.add_argument("--broker-port", type=int, default=9092, help="(default 9092)")
    up.add_argument("--temporal-port", type=int, default=7233, help="(default 7233)")
    up.add_argument("--temporal-ui-port", type=int, default=8233, help="(default 8233)")
    up.add_argument("--smtp-port", type=int, default=1025, help="local SMTP sink (default 1025)")
    up.add_argument("--transfer-window", type=float, metavar="SECONDS",
                    help="transfer cancellation window, for demos (default 86400: 24 hours)")
    up.set_defaults(handler=cmd_up)

    commands.add_parser(
        "migrate", help="apply every service's database migrations, each in its own schema (DATABASE_URL)"
    ).set_defaults(handler=cmd_migrate, server="database")
    commands.add_parser(
        "topics", help="create the Kafka topics (KAFKA_BOOTSTRAP_SERVERS)"
    ).set_defaults(handler=cmd_topics, server="broker")
    asyncapi = commands.add_parser("asyncapi", help="write the AsyncAPI document of every topic and event")
    asyncapi.add_argument("--output", "-o", default="docs/asyncapi.yaml",
                          help="where to write it, - for standard output (default docs/asyncapi.yaml)")
    asyncapi.add_argument("--check", action="store_true",
                          help="exit 1 when the file differs from the event models, write nothing")
    asyncapi.set_defaults(handler=cmd_asyncapi)
    outbox = commands.add_parser("outbox", help="the outbox rows the relay parked (DATABASE_URL)")
    outbox.add_argument("action", choices=("parked", "replay"),
                        help="parked: list them with their error; replay: put them back in line")
    outbox.add_argument("--id", type=int, action="append", help="replay only this row (repeatable)")
    outbox.add_argument("--limit", type=int, default=100, help="rows to list per schema (default 100)")
    outbox.set_defaults(handler=cmd_outbox, server="database")
    dead = commands.add_parser(
        "dead-letters",
        help="the messages the consumers parked after their retries (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS)",
    )
    dead.add_argument("action", choices=("list", "replay"),
                      help="list: with their error, topic, partition, offset and key;"
                           " replay: re-publish them to their topic")
    dead.add_argument("--service", choices=DEAD_LETTER_SCHEMAS,
                      help="only this service's dead letters (its schema)")
    dead.add_argument("--id", type=int, action="append",
                      help="replay only this dead letter (repeatable; with --service)")
    dead.add_argument("--all", action="store_true", help="list the replayed ones too")
    dead.add_argument("--limit", type=int, default=100, help="dead letters to list per service (default 100)")
    dead.set_defaults(handler=cmd_dead_letters, server="database")
    imports = commands.add_parser("import", help="import clients, items or payments from CSV or JSON (DATABASE_URL)")
    imports.add_argument("file", help="the CSV or JSON file")
    imports.add_argument("--kind", choices=("clients", "items", "payments"), help="(default: from the columns)")
    imports.add_argument("--format", choices=("csv", "json"), help="(default: from the file name)")
    imports.add_argument("--show-errors", type=int, default=20, help="rejected rows to print (default 20)")
    imports.set_defaults(handler=cmd_import, server="database")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("relance-devstack")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The Kafka client logs each failed connection attempt itself; the one line below says it.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return args.handler(args)
    except Exception as exc:  # noqa: BLE001 - a server out of reach is one line, not a traceback
        message = unreachable_server(exc, getattr(args, "server", None))
        if message is None:
            raise
        print(f"relance: {message}", file=sys.stderr)
        return EXIT_UNREACHABLE


def unreachable_server(exc: BaseException, server: str | None) -> str | None:
    """One line naming the server that could not be reached and why, or None when `exc` is
    not a connection failure (a bug keeps its traceback)."""
    from aiokafka.errors import KafkaConnectionError

    try:
        import asyncpg
        login_errors: tuple[type[BaseException], ...] = (
            asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError,
            asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
        )
    except (ImportError, AttributeError):
        login_errors = ()
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, KafkaConnectionError):
            return _describe_server("broker", error)
        if isinstance(error, login_errors) or isinstance(error, OSError):
            return _describe_server(server or "database", error)
        error = error.__cause__ or error.__context__
    return None


def _describe_server(server: str, error: BaseException) -> str:
    settings = CommonSettings()
    if server == "broker":
        where = f"the Kafka broker at {settings.kafka_bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)"
    elif server == "temporal":
        where = f"Temporal at {settings.temporal_address} (TEMPORAL_ADDRESS)"
    else:
        from urllib.parse import urlsplit

        url = urlsplit(settings.database_url)
        host = f"{url.hostname or 'localhost'}:{url.port or 5432}{url.path}"
        where = f"the database at {host} (DATABASE_URL)"
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"cannot reach {where}: {reason}"


if __name__ == "__main__":
    sys.exit(main())
