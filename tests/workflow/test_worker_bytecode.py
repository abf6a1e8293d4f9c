"""Issue 11: the workflow sandbox runs a workflow's module afresh for each workflow it
loads; the worker writes the modules' bytecode at start so that is not a compile of the
source each time, even where Python writes no bytecode by itself."""

import importlib.util
import struct
import sys
from pathlib import Path

from relance_workflow.worker import WORKFLOWS, write_bytecode


def test_the_workflow_modules_bytecode_is_written_and_matches_their_source() -> None:
    modules = {sys.modules[w.__module__] for w in WORKFLOWS}
    sources = {Path(m.__file__) for m in modules} | {Path(next(iter(modules)).__file__).with_name("common.py")}
    cache = {source: Path(importlib.util.cache_from_source(str(source))) for source in sources}
    for cached in cache.values():
        cached.unlink(missing_ok=True)  # as on a fresh editable install

    write_bytecode(WORKFLOWS)

    for source, cached in cache.items():
        assert cached.exists(), f"no bytecode for {source.name}"
        header = cached.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        flags, mtime, size = struct.unpack("<III", header[4:16])
        # Timestamp-checked bytecode of the current source: the import uses it.
        assert (flags, mtime, size) == (0, int(source.stat().st_mtime) & 0xFFFFFFFF, source.stat().st_size)
