"""person course status: each person's standing per assigned course, stored by the recounts that keep agency_progress, so the people list reads a page instead of working out the subtree; agency.search_name for its agency search box

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 12:10:00

Filled here from the current data by the recount itself (`tracking.progress.rebuild`: one
INSERT … SELECT per course, the same rule as the summaries, which it recounts with them).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.orm import Session

import app.models  # noqa: F401  (custom column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('person_course_status',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('search_name', sa.String(length=255), nullable=False),
    sa.Column('employee_code', sa.String(length=50), nullable=True),
    sa.Column('due_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('window_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('window_opened_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('completed_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('expires_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('last_activity_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('lessons_done', sa.Integer(), nullable=False),
    sa.Column('lessons_renewed', sa.Integer(), nullable=False),
    sa.Column('best_score', sa.Float(), nullable=True),
    sa.Column('commitment_missing', sa.Boolean(), nullable=False),
    sa.Column('counted_at', app.models.UTCDateTime(), nullable=False),
    sa.CheckConstraint('lessons_done >= 0 AND lessons_renewed >= 0 AND lessons_renewed <= lessons_done', name=op.f('ck_person_course_status_lessons_within')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_person_course_status_agency_id_agency')),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_person_course_status_course_id_course')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_person_course_status_user_id_user')),
    sa.PrimaryKeyConstraint('user_id', 'course_id', name=op.f('pk_person_course_status'))
    )
    op.create_index('ix_person_course_status_list', 'person_course_status', ['course_id', 'path', 'search_name', 'user_id'], unique=False)
    op.create_index('ix_person_course_status_name', 'person_course_status', ['course_id', 'search_name', 'user_id'], unique=False)
    op.create_index('ix_person_course_status_due', 'person_course_status', ['course_id', 'due_at'], unique=False)
    op.create_index('ix_person_course_status_agency', 'person_course_status', ['agency_id', 'course_id'], unique=False)
    op.create_index('ix_person_course_status_counted', 'person_course_status', ['course_id', 'counted_at'], unique=False)
    op.create_index('ix_person_course_status_window_opened', 'person_course_status', ['course_id', 'window_opened_at'], unique=False)
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_name', sa.String(length=255), server_default='', nullable=False))
    # Folded in Python (the databases cannot strip Vietnamese diacritics alike), one batch.
    from app.content.text import strip_diacritics
    bind = op.get_bind()
    names = bind.execute(sa.text("SELECT id, name FROM agency")).all()
    if names:
        bind.execute(sa.text("UPDATE agency SET search_name = :folded WHERE id = :id"),
                     [{"id": id_, "folded": strip_diacritics(name)} for id_, name in names])
    from app.tracking import progress  # the rule lives there once; the migration does not copy it
    session = Session(bind=op.get_bind())
    progress.rebuild(session, from_paths=True)  # assignment_coverage comes with 0021
    session.flush()


def downgrade():
    op.drop_table('person_course_status')
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('search_name')
