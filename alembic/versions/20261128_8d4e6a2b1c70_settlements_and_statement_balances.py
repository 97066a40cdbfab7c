"""settlements and statement balances

SettlementRun / Settlement / SettlementLine for the weekly payouts (docs/settlements.md);
the unique (allocation, organisation) line is what keeps an allocation from being
settled twice. camt.053 balances on BankImport feed escrow reconciliation, and
allocation.created_at is indexed because every settlement run selects by it.

Revision ID: 8d4e6a2b1c70
Revises: 7c3d2f1e9b55
Create Date: 2026-11-28 11:43:55.729706
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '8d4e6a2b1c70'
down_revision: str | None = '7c3d2f1e9b55'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('settlementrun',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cut_off', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('previous_cut_off', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('execution_date', sa.Date(), nullable=True),
    sa.Column('organization_count', sa.Integer(), nullable=False),
    sa.Column('payout_count', sa.Integer(), nullable=False),
    sa.Column('gross_cents', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('net_cents', sa.Integer(), nullable=False),
    sa.Column('payout_cents', sa.Integer(), nullable=False),
    sa.Column('pain001_version', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('payout_xml', sa.Text(), nullable=True),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=35), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('approved_by_user_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'approved')", name='ck_settlementrun_status'),
    sa.ForeignKeyConstraint(['approved_by_user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cut_off')
    )
    op.create_table('settlement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=25), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('payment_count', sa.Integer(), nullable=False),
    sa.Column('gross_cents', sa.Integer(), nullable=False),
    sa.Column('reversal_cents', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('carried_in_cents', sa.Integer(), nullable=False),
    sa.Column('net_cents', sa.Integer(), nullable=False),
    sa.Column('payout_cents', sa.Integer(), nullable=False),
    sa.Column('iban', sqlmodel.sql.sqltypes.AutoString(length=34), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'approved', 'carried')", name='ck_settlement_status'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['settlementrun.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference'),
    sa.UniqueConstraint('run_id', 'organization_id')
    )
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.create_index('ix_settlement_org_run', ['organization_id', 'run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settlement_run_id'), ['run_id'], unique=False)

    op.create_table('settlementline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('allocation_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.ForeignKeyConstraint(['allocation_id'], ['allocation.id'], ),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], ),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('allocation_id', 'organization_id', name='uq_settlementline_allocation_org')
    )
    with op.batch_alter_table('settlementline', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlementline_allocation_id'), ['allocation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settlementline_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settlementline_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settlementline_settlement_id'), ['settlement_id'], unique=False)

    with op.batch_alter_table('bankimport', schema=None) as batch_op:
        batch_op.add_column(sa.Column('statement_iban', sqlmodel.sql.sqltypes.AutoString(length=34), nullable=True))
        batch_op.add_column(sa.Column('opening_balance_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('closing_balance_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('closing_balance_date', sa.Date(), nullable=True))

    with op.batch_alter_table('allocation', schema=None) as batch_op:
        batch_op.create_index('ix_allocation_created_at', ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('allocation', schema=None) as batch_op:
        batch_op.drop_index('ix_allocation_created_at')

    with op.batch_alter_table('bankimport', schema=None) as batch_op:
        batch_op.drop_column('closing_balance_date')
        batch_op.drop_column('closing_balance_cents')
        batch_op.drop_column('opening_balance_cents')
        batch_op.drop_column('statement_iban')

    with op.batch_alter_table('settlementline', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlementline_settlement_id'))
        batch_op.drop_index(batch_op.f('ix_settlementline_payment_id'))
        batch_op.drop_index(batch_op.f('ix_settlementline_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_settlementline_allocation_id'))

    op.drop_table('settlementline')
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlement_run_id'))
        batch_op.drop_index('ix_settlement_org_run')

    op.drop_table('settlement')
    op.drop_table('settlementrun')
