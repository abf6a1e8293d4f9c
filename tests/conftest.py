"""Session fixtures: one real stack per test session, started only when a test asks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from relance.kafka import ensure_topics
from relance_dossier.persistence.migrations import upgrade
from tests.stack import TestStack, start_test_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestStack]:
    data_dir = tmp_path_factory.mktemp("relance-stack")
    test_stack = start_test_stack(data_dir)
    try:
        upgrade(test_stack.database_url)
        asyncio.run(ensure_topics(test_stack.kafka_bootstrap_servers))
        yield test_stack
    finally:
        test_stack.stop()
