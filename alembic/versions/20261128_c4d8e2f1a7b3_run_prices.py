"""run prices: an invoice run's fee lines once per price, not once per invoice

A run of 100,000 invoices wrote about 300,000 invoice lines, each checked by two foreign
keys on PostgreSQL: 600,000 trigger calls, most of the run's commit time. The lines of a
run depend only on the club and membership type, so the run now writes a few dozen
prices (`runprice`, `runpriceline`) and each invoice names its price. The view
`invoice_lines` gives every reader all lines of an invoice: the ones written for it
(manual invoices, credit notes, reminder fees, and run invoices made before this
revision, which keep theirs) and its run price's lines. The index on
`invoice.credited_invoice_id` becomes partial (credit notes only), for the same reason.

Revision ID: c4d8e2f1a7b3
Revises: b7e2d4c1a903
Create Date: 2026-11-28 16:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "c4d8e2f1a7b3"
down_revision: str | None = "b7e2d4c1a903"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INVOICE_LINES_VIEW = """
CREATE VIEW invoice_lines AS
SELECT l.invoice_id, l.position, l.organization_id, l.description, l.amount_cents, l.kind
FROM invoiceline l
UNION ALL
SELECT i.id, p.position, p.organization_id, p.description, p.amount_cents, p.kind
FROM invoice i JOIN runpriceline p ON p.run_price_id = i.run_price_id
"""


def upgrade() -> None:
    op.create_table('runprice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('membership_type_id', sa.Integer(), nullable=False),
    sa.Column('total_cents', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['membership_type_id'], ['membershiptype.id'], ),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['invoicerun.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'organization_id', 'membership_type_id')
    )
    op.create_table('runpriceline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_price_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['run_price_id'], ['runprice.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_price_id', 'position')
    )
    with op.batch_alter_table('runpriceline', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runpriceline_organization_id'), ['organization_id'], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN with REFERENCES: no copy of the invoice table (batch mode would).
        op.execute("ALTER TABLE invoice ADD COLUMN run_price_id INTEGER REFERENCES runprice (id)")
    else:
        op.add_column("invoice", sa.Column("run_price_id", sa.Integer(), nullable=True))
        op.create_foreign_key("invoice_run_price_id_fkey", "invoice", "runprice",
                              ["run_price_id"], ["id"])
    op.execute(INVOICE_LINES_VIEW)
    # Only credit notes name the invoice they credit: index those rows alone, so that
    # the 100,000 invoices of a run add nothing to this index.
    op.drop_index("ix_invoice_credited_invoice_id", table_name="invoice")
    op.create_index("ix_invoice_credited_invoice_id", "invoice", ["credited_invoice_id"],
                    postgresql_where=sa.text("credited_invoice_id IS NOT NULL"),
                    sqlite_where=sa.text("credited_invoice_id IS NOT NULL"))



def downgrade() -> None:
    op.drop_index("ix_invoice_credited_invoice_id", table_name="invoice")
    op.create_index("ix_invoice_credited_invoice_id", "invoice", ["credited_invoice_id"])
    op.execute("DROP VIEW invoice_lines")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE invoice DROP COLUMN run_price_id")
    else:
        op.drop_constraint("invoice_run_price_id_fkey", "invoice", type_="foreignkey")
        op.drop_column("invoice", "run_price_id")

    with op.batch_alter_table('runpriceline', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runpriceline_organization_id'))

    op.drop_table('runpriceline')
    op.drop_table('runprice')
