"""Issue 11: the import bench measures the floor of the import's ratio (the same rows
written straight into `items`) and leaves nothing of it behind."""

import asyncpg

from bench.import_bench import run_import_bench


async def test_the_import_floor_is_measured_and_rolled_back(stack) -> None:
    comparison = await run_import_bench(stack.database_url, 2_000)
    floor = comparison.extra["floor"]
    assert floor["count"] == 2_000 and floor["seconds"] > 0
    assert comparison.extra["floor_ratio"] > 0 and comparison.extra["ratio_to_floor"] > 0
    conn = await asyncpg.connect(stack.database_url)
    try:
        left = await conn.fetchval("SELECT count(*) FROM dossier.items WHERE number LIKE '%-floor'")
    finally:
        await conn.close()
    assert left == 0
