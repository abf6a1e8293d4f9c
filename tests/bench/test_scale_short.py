"""The scale run's short version (issue 11): every path of `python -m bench --scale` on a
small data set, on its own embedded stack with every service. Its figures are reported,
not judged here (speed is the benchmark's business); what is asserted is that each path
did what a user would check: every client and item loaded, the agenda and the search
answered with the rows asked for, the console's agenda page
showed the collector's clients, the mass assignment moved the whole segment, each export
was read to its end, and every
transfer of the burst was placed after its window."""

from pathlib import Path

from bench.scale import ScaleOptions, run_scale, scale_lines


def test_scale_run_measures_every_path_on_a_small_data_set(tmp_path: Path) -> None:
    from relance_devstack.embedded import EmbeddedStack, StackPorts
    from relance_devstack.migrate import upgrade_all

    options = ScaleOptions.short()
    stack = EmbeddedStack(tmp_path / "stack", StackPorts.free(), temporal_ui=False)
    stack.start()
    try:
        upgrade_all(stack.database_url)
        results = run_scale(stack, options, progress=print)
    finally:
        stack.stop()
    print("\n".join(scale_lines(results)))

    assert results["load"]["clients"] == options.clients and results["load"]["items"] == options.items
    # Vacuumed once loaded: no phase shares the machine with autovacuum's pass over them.
    assert results["load"]["rows_awaiting_vacuum"] == 0
    card = results["client_card"]
    assert card["steady"]["errors"] == 0 and card["bare_steady"]["errors"] == 0
    assert card["steady"]["requests"] == int(options.card_rate * options.card_seconds)
    assert card["ratio"] > 0 and card["steady"]["p99_ms"] >= card["steady"]["p50_ms"] > 0
    assert results["agenda"]["clients"] == 10_000 or results["agenda"]["clients"] == options.clients
    # F-35: the console's pages as the agenda's collector sees them, their clients shown.
    console = results["console"]
    assert console["agenda"]["clients"] == min(10_000, options.clients)
    assert 0 < console["agenda"]["clients_shown"] <= console["agenda"]["clients"]
    assert console["client card"]["pages"] == min(100, options.clients)
    assert all(page["requests"] == 100 and page["p95_ms"] >= page["p50_ms"] > 0 for page in console.values())
    assert results["search"]["codes"] == min(5_000, options.clients)
    # F-36: the KPIs answered over every client.
    assert results["kpis"]["clients"] == options.clients and results["kpis"]["p95_ms"] > 0
    # One segment in ten (F-5): every one of its clients moved to the collector.
    assert results["mass_assignment"]["clients"] == options.clients // 10
    assert results["mass_assignment"]["changed"] == options.clients // 10
    # F-40: each export read to its end; the segment's aging report has a line per client
    # (one currency here), with its header and total.
    exports = results["exports"]
    assert exports["aging report of a segment (CSV)"]["lines"] == options.clients // 10 + 2
    assert 0 < exports["search by pasted codes (CSV)"]["lines"] <= min(5_000, options.clients) + 2
    assert all(e["bytes"] > 0 and e["whole_ms"] >= e["first_byte_ms"] > 0 for e in exports.values())
    windows = results["transfer_windows"]
    assert windows["transfers"] == options.transfers and windows["same_minute"] == options.same_minute
    # Every window of the burst placed; the others, on the product's 24-hour window, open.
    assert windows["lag_same_minute"]["placed"] == options.same_minute
    assert windows["open_when_the_burst_was_placed"] == options.transfers - options.same_minute
    # F-27: never placed before the window ended.
    assert windows["lag_same_minute"]["min_s"] >= 0
    assert all(v and v > 0 for v in windows["peak_memory_mib"].values())
    # The bare baseline: every timer ended and ran its activity, none before its end.
    bare = windows["bare_same_minute"]
    assert bare["workflows"] == options.same_minute and bare["lag"]["placed"] == options.same_minute
    assert bare["lag"]["min_s"] >= 0
