"""Late fees and interest (F-38) and templates per locale (F-39).

- `late_fee_policies`: the late-fee rule of a segment or of one client (the client's wins
  over its segment's, which wins over the settings' defaults); `late_fee_charges`: the
  fees added as items (kind 'fee'), one recovery indemnity per invoice ever and the
  interest charged for the days up to `interest_to`, never twice for the same days.
- Items get the kind 'fee' (a debit, like an invoice, never chased by a scenario).
- A contact may have a language (its messages use the template of that locale).
- A template code has one version per locale (primary key code + locale); English
  versions of the reference templates are seeded.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from relance.sql_script import run_script

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE items DROP CONSTRAINT items_kind_check;
ALTER TABLE items ADD CONSTRAINT items_kind_check
    CHECK (kind IN ('invoice', 'credit_note', 'payment', 'fee'));

CREATE TABLE late_fee_policies (
    scope             text NOT NULL CHECK (scope IN ('segment', 'client')),
    scope_key         text NOT NULL,           -- the segment, or the client's code
    enabled           boolean NOT NULL DEFAULT true,
    interest_rate     numeric(9, 6) CHECK (interest_rate BETWEEN 0 AND 1),  -- NULL: inherited
    indemnity_amount  numeric(18, 2) CHECK (indemnity_amount >= 0),         -- NULL: inherited
    updated_by        text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, scope_key)
);

CREATE TABLE late_fee_charges (
    item_id        uuid PRIMARY KEY REFERENCES items(id),   -- the fee item
    invoice_id     uuid NOT NULL REFERENCES items(id),      -- the late invoice
    kind           text NOT NULL CHECK (kind IN ('indemnity', 'interest')),
    interest_from  date,                                    -- interest for the days
    interest_to    date,                                    -- (from, to]
    amount         numeric(18, 2) NOT NULL,
    currency       char(3) NOT NULL,
    charged_by     text NOT NULL,
    charged_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'interest') = (interest_to IS NOT NULL))
);
CREATE UNIQUE INDEX late_fee_charges_one_indemnity ON late_fee_charges (invoice_id)
    WHERE kind = 'indemnity';
CREATE UNIQUE INDEX late_fee_charges_interest ON late_fee_charges (invoice_id, interest_to)
    WHERE kind = 'interest';

ALTER TABLE contacts ADD COLUMN language text;

ALTER TABLE templates DROP CONSTRAINT templates_pkey;
ALTER TABLE templates ADD PRIMARY KEY (code, locale);
"""

ENGLISH_TEMPLATES = [
    (
        "relance-email-1",
        "email",
        "Reminder: overdue invoices — {{ client.name }}",
        "Hello,\n\n"
        "Unless we are mistaken, the following items are still unpaid:\n\n"
        "#items_list_selected\n\n"
        "Total amount due: #items_amount_selected\n"
        "{% if has_late_fees %}\nLate-payment interest to date: #late_interest\n"
        "Fixed recovery indemnity: #recovery_indemnity\n{% endif %}\n"
        "Please settle them at your earliest convenience.\n\n"
        "The credit control team",
    ),
    (
        "relance-courrier-2",
        "letter",
        "Second reminder — {{ client.name }}",
        "Dear Sir or Madam,\n\n"
        "Despite our previous reminder, the following items are still unpaid:\n\n"
        "#items_list_selected\n\n"
        "Total amount due: #items_amount_selected\n"
        "{% if has_late_fees %}\nLate-payment interest to date: #late_interest\n"
        "Fixed recovery indemnity: #recovery_indemnity\n{% endif %}\n"
        "Without payment within eight days, your file will be passed to litigation.",
    ),
]


def upgrade() -> None:
    run_script(SCHEMA)
    templates = sa.table(
        "templates", sa.column("code"), sa.column("channel"), sa.column("locale"),
        sa.column("subject"), sa.column("body"),
    )
    op.bulk_insert(templates, [
        dict(code=c, channel=ch, locale="en", subject=s, body=b)
        for c, ch, s, b in ENGLISH_TEMPLATES
    ])


def downgrade() -> None:
    run_script("""
DELETE FROM templates t USING templates o
    WHERE o.code = t.code AND o.locale = 'fr' AND t.locale <> 'fr';
DELETE FROM templates t WHERE t.ctid <> (
    SELECT min(o.ctid) FROM templates o WHERE o.code = t.code);
ALTER TABLE templates DROP CONSTRAINT templates_pkey;
ALTER TABLE templates ADD PRIMARY KEY (code);
ALTER TABLE contacts DROP COLUMN language;
DROP TABLE late_fee_charges;
DROP TABLE late_fee_policies;
DELETE FROM items WHERE kind = 'fee';
ALTER TABLE items DROP CONSTRAINT items_kind_check;
ALTER TABLE items ADD CONSTRAINT items_kind_check
    CHECK (kind IN ('invoice', 'credit_note', 'payment'));
""")
