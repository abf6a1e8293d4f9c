"""Kafka topic names: `<aggregate>.events` for facts, `<target>.commands` for requests.

Every topic is keyed by client id, so one client's events stay in order on one partition.
Topics are created explicitly at start-up (the embedded broker does not auto-create)."""

CLIENT_EVENTS = "client.events"
ITEM_EVENTS = "item.events"
DOSSIER_EVENTS = "dossier.events"
CONTACT_EVENTS = "contact.events"
INTERVENTION_EVENTS = "intervention.events"
TRANSFER_EVENTS = "transfer.events"
# What agencies tell the gateway (acknowledgements, validations, refusals, payments).
AGENCY_EVENTS = "agency.events"
COMMUNICATION_COMMANDS = "communication.commands"
COMMUNICATION_EVENTS = "communication.events"
# What the ERP publishes (F-42): clients, items and payments, keyed by the client's ERP code.
ERP_EVENTS = "erp.events"

ALL_TOPICS: tuple[str, ...] = (
    CLIENT_EVENTS,
    ITEM_EVENTS,
    DOSSIER_EVENTS,
    CONTACT_EVENTS,
    INTERVENTION_EVENTS,
    TRANSFER_EVENTS,
    AGENCY_EVENTS,
    COMMUNICATION_COMMANDS,
    COMMUNICATION_EVENTS,
    ERP_EVENTS,
)

DEFAULT_PARTITIONS = 4
