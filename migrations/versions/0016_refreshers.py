"""spaced refreshers: one and three months after a completion, a three-question practice

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 05:00:00
"""
from alembic import op
import sqlalchemy as sa
import app.models  # noqa: F401  (custom column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('refresher',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('completion_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('invited_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('months IN (1, 3)', name=op.f('ck_refresher_months_known')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_refresher_agency_id_agency')),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_refresher_attempt_id_attempt')),
    sa.ForeignKeyConstraint(['completion_id'], ['course_completion.id'], name=op.f('fk_refresher_completion_id_course_completion'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_refresher_course_id_course')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_refresher_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresher')),
    sa.UniqueConstraint('attempt_id', name=op.f('uq_refresher_attempt_id')),
    sa.UniqueConstraint('completion_id', 'months', name=op.f('uq_refresher_completion_id_months'))
    )
    with op.batch_alter_table('refresher', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresher_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresher_completion_id'), ['completion_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresher_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('refresher', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresher_user_id'))
        batch_op.drop_index(batch_op.f('ix_refresher_completion_id'))
        batch_op.drop_index(batch_op.f('ix_refresher_agency_id'))
    op.drop_table('refresher')
