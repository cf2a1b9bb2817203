"""directory sign-in: an agency can turn off the passwords the app keeps for its staff

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('local_passwords_allowed', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('local_passwords_allowed')
