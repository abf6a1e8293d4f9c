"""The `relance` command: `relance up` runs the whole platform on the embedded stack;
`relance migrate` and `relance topics` prepare real servers."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

from relance.settings import CommonSettings


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
    from relance_devstack.demo import load_demo
    from relance_devstack.embedded import EmbeddedStack, StackPorts
    from relance.kafka import ensure_topics
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
        supervisor = Supervisor(
            {**stack.env(), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(args.smtp_port),
             "BOOTSTRAP_ADMIN_TOKEN": admin_token},
            stack.logs_dir,
            ports=ports,
            # A short transfer window lets a demo show a placement without waiting a day.
            extra_env={"workflow": {"TRANSFER_WINDOW_SECONDS": str(args.transfer_window)}}
            if args.transfer_window else {},
        )
        print("Starting the outbox relay, the four services and the agency simulator …", flush=True)
        supervisor.start_all()
        if not args.no_demo:
            created = load_demo(supervisor.running["dossier"].url, admin_token)
            print(f"Demo data loaded ({created} new clients).", flush=True)
        _print_urls(stack, supervisor, data_dir, args.smtp_port, admin_token, time.monotonic() - started)
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


def _print_urls(stack, supervisor, data_dir: Path, smtp_port: int, admin_token: str, seconds: float) -> None:
    running = supervisor.running
    print(
        f"""
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

    parser = argparse.ArgumentParser(prog="relance", description=__doc__)
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

    commands.add_parser("migrate", help="apply every service's database migrations, each in its own schema (DATABASE_URL)").set_defaults(handler=cmd_migrate)
    commands.add_parser("topics", help="create the Kafka topics (KAFKA_BOOTSTRAP_SERVERS)").set_defaults(handler=cmd_topics)
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
    outbox.set_defaults(handler=cmd_outbox)
    imports = commands.add_parser("import", help="import clients, items or payments from CSV or JSON (DATABASE_URL)")
    imports.add_argument("file", help="the CSV or JSON file")
    imports.add_argument("--kind", choices=("clients", "items", "payments"), help="(default: from the columns)")
    imports.add_argument("--format", choices=("csv", "json"), help="(default: from the file name)")
    imports.add_argument("--show-errors", type=int, default=20, help="rejected rows to print (default 20)")
    imports.set_defaults(handler=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
