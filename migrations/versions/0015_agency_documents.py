"""agency document settings: the symbol of its documents' numbers and who signs its reports

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 04:45:00

The PDF report reads "Số: …/BC-<symbol>" and the signer's title and name from these; existing
agencies start empty and the report leaves blanks to fill in by hand until an administrator sets them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agency') as batch_op:
        batch_op.add_column(sa.Column('document_symbol', sa.String(length=40), server_default='', nullable=False))
        batch_op.add_column(sa.Column('signer_title', sa.String(length=120), server_default='', nullable=False))
        batch_op.add_column(sa.Column('signer_name', sa.String(length=120), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('agency') as batch_op:
        batch_op.drop_column('signer_name')
        batch_op.drop_column('signer_title')
        batch_op.drop_column('document_symbol')
