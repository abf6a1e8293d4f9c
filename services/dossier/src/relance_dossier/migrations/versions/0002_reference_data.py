"""Reference data: the default dunning scenario and its French templates (F-9, F-18).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""


import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TEMPLATES = [
    (
        "relance-email-1",
        "email",
        "Relance : factures échues — {{ client.name }}",
        "Bonjour,\n\n"
        "Sauf erreur de notre part, les pièces suivantes restent impayées à ce jour :\n\n"
        "#items_list_selected\n\n"
        "Montant total dû : #items_amount_selected\n\n"
        "Merci de procéder à leur règlement dans les meilleurs délais.\n\n"
        "Le service recouvrement",
    ),
    (
        "relance-courrier-2",
        "letter",
        "Deuxième relance — {{ client.name }}",
        "Madame, Monsieur,\n\n"
        "Malgré notre précédente relance, les pièces suivantes restent impayées :\n\n"
        "#items_list_selected\n\n"
        "Montant total dû : #items_amount_selected\n\n"
        "Sans règlement sous huit jours, nous transmettrons votre dossier au contentieux.",
    ),
]

DEFAULT_SCENARIO_STEPS = [
    {"action_type": "email", "delay_days": 0, "delay_from": "due_date",
     "template_code": "relance-email-1", "priority": 2, "mode": "automatic",
     "label": "Relance amiable par email"},
    {"action_type": "letter", "delay_days": 15, "delay_from": "previous_step",
     "template_code": "relance-courrier-2", "priority": 3, "mode": "automatic_to_confirm",
     "label": "Deuxième relance par courrier"},
    {"action_type": "call", "delay_days": 10, "delay_from": "previous_step",
     "template_code": None, "priority": 4, "mode": "manual",
     "label": "Appel du client"},
]


def upgrade() -> None:
    templates = sa.table(
        "templates", sa.column("code"), sa.column("channel"), sa.column("subject"), sa.column("body")
    )
    op.bulk_insert(
        templates, [dict(code=c, channel=ch, subject=s, body=b) for c, ch, s, b in TEMPLATES]
    )
    scenarios = sa.table(
        "scenarios", sa.column("code"), sa.column("version"), sa.column("name"),
        sa.column("steps", sa.JSON), sa.column("is_default"),
    )
    op.bulk_insert(
        scenarios,
        [dict(code="standard", version=1, name="Scénario standard", steps=DEFAULT_SCENARIO_STEPS,
              is_default=True)],
    )


def downgrade() -> None:
    op.execute("DELETE FROM scenarios WHERE code = 'standard' AND version = 1")
    op.execute("DELETE FROM templates WHERE code IN ('relance-email-1', 'relance-courrier-2')")
