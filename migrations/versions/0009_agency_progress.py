"""agency progress: staff, completed and started per agency and course, kept by the services; the cycle each assignment was counted with (progress_cycle); completions by course and date for the weekly chart

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 03:35:00

The tables start empty: every assignment is uncounted, and the dashboards work each person's status
out as before until `flask tracking refresh-progress` (run by `make serve` on deploy, and daily by
`flask reminders send`) has counted them.
"""
from alembic import op
import sqlalchemy as sa
import app.models  # noqa: F401  (custom column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agency_progress',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('staff', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('started', sa.Integer(), nullable=False),
    sa.Column('due_at', app.models.UTCDateTime(), nullable=False),
    sa.Column('counted_at', app.models.UTCDateTime(), nullable=False),
    sa.CheckConstraint('completed >= 0 AND started >= 0 AND completed + started <= staff', name=op.f('ck_agency_progress_counts_within_staff')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_agency_progress_agency_id_agency')),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_agency_progress_course_id_course')),
    sa.PrimaryKeyConstraint('agency_id', 'course_id', name=op.f('pk_agency_progress'))
    )
    with op.batch_alter_table('agency_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_progress_course_id'), ['course_id'], unique=False)
    op.create_index('ix_course_completion_course_time', 'course_completion',
                    ['course_id', 'completed_at', 'agency_id'], unique=False)
    op.create_table('progress_cycle',
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('cycle_start_at', app.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_progress_cycle_assignment_id_assignment')),
    sa.PrimaryKeyConstraint('assignment_id', name=op.f('pk_progress_cycle'))
    )


def downgrade():
    op.drop_table('progress_cycle')
    op.drop_index('ix_course_completion_course_time', table_name='course_completion')
    with op.batch_alter_table('agency_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_progress_course_id'))
    op.drop_table('agency_progress')
