"""The contract tests that write at random or walk every route (fuzzing, the access
matrix) run after every other test of the session, so what they leave behind (clients,
collectors, assignment rules) never meets another test's expectations."""

import pytest

LAST = ("test_fuzz.py", "test_access_matrix.py", "test_asyncapi_events.py")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: Schemathesis over the APIs against the real stack")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i + 1 for i, name in enumerate(LAST)}
    items.sort(key=lambda item: rank.get(item.path.name, 0))
