"""Typed Temporal search attributes, registered at start-up so the Temporal UI answers SRE
questions ("what is due tomorrow for collector X", "which transfers wait on an agency").
No personal data goes in them: codes, states and dates only."""

from temporalio.common import SearchAttributeKey

CLIENT_CODE = SearchAttributeKey.for_keyword("RelanceClientCode")
COLLECTOR = SearchAttributeKey.for_keyword("RelanceCollector")
DOSSIER_STATE = SearchAttributeKey.for_keyword("RelanceDossierState")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("RelanceNextActionAt")
TRANSFER_STATE = SearchAttributeKey.for_keyword("RelanceTransferState")
AGENCY = SearchAttributeKey.for_keyword("RelanceAgency")
AGENCY_ANSWER_OVERDUE = SearchAttributeKey.for_bool("RelanceAgencyAnswerOverdue")

ALL = (
    CLIENT_CODE,
    COLLECTOR,
    DOSSIER_STATE,
    NEXT_ACTION_AT,
    TRANSFER_STATE,
    AGENCY,
    AGENCY_ANSWER_OVERDUE,
)

_CLI_TYPE_NAMES = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "TEXT": "Text"}


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type.name]}"]
    return flags


async def register(client, namespace: str = "default") -> None:
    """Register every key on a server that was not started with the CLI flags above."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in ALL},
        )
    )
