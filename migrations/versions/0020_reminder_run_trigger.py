"""reminder runs record who started them: an administrator's "Gửi ngay", or the daily command

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 12:00:00
"""
from alembic import op
import sqlalchemy as sa
import app.models  # noqa: F401  (custom column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reminder_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('triggered_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_reminder_run_triggered_by_id_user'), 'user',
                                    ['triggered_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('reminder_run', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reminder_run_triggered_by_id_user'), type_='foreignkey')
        batch_op.drop_column('triggered_by_id')
