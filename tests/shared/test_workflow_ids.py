"""Workflow ids are business keys: one workflow per dossier, transfer and specific action
(F-9, F-17, F-27), so starting the same entity twice lands on the same workflow."""

from uuid import UUID, uuid4

import pytest

from relance.workflow_ids import action_workflow_id, dossier_workflow_id, transfer_workflow_id

ENTITY = UUID("3f2c6a8e-1b4d-4e7a-9c0f-5a6b7c8d9e01")

BUILDERS = [
    pytest.param(dossier_workflow_id, "dossier", id="dossier"),
    pytest.param(transfer_workflow_id, "transfer", id="transfer"),
    pytest.param(action_workflow_id, "action", id="specific-action"),
]


@pytest.mark.parametrize(("build", "prefix"), BUILDERS)
def test_workflow_id_is_the_entity_kind_and_its_id(build, prefix: str) -> None:
    assert build(ENTITY) == f"{prefix}-3f2c6a8e-1b4d-4e7a-9c0f-5a6b7c8d9e01"


@pytest.mark.parametrize(("build", "prefix"), BUILDERS)
def test_workflow_id_is_stable_for_the_same_entity(build, prefix: str) -> None:
    entity = uuid4()
    assert build(entity) == build(entity) == build(UUID(str(entity)))


@pytest.mark.parametrize(("build", "prefix"), BUILDERS)
def test_workflow_id_is_the_same_from_a_uuid_or_its_text(build, prefix: str) -> None:
    """Ids arrive as UUIDs from the database and as text from events."""
    assert build(ENTITY) == build(str(ENTITY))


@pytest.mark.parametrize(("build", "prefix"), BUILDERS)
def test_different_entities_get_different_workflows(build, prefix: str) -> None:
    assert build(uuid4()) != build(uuid4())


def test_a_dossier_a_transfer_and_an_action_with_the_same_id_never_share_a_workflow() -> None:
    ids = {dossier_workflow_id(ENTITY), transfer_workflow_id(ENTITY), action_workflow_id(ENTITY)}
    assert len(ids) == 3
