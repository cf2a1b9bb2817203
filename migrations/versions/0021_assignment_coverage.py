"""assignment coverage: per active assignment, every agency it covers, so the recount reads the governing assignments of a course's agencies by index instead of one path query per assignment

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 18:30:00

Filled here from the paths in one INSERT … SELECT (`tracking.coverage.rebuild`, the statement the
app uses to repair it).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.orm import Session

import app.models  # noqa: F401  (custom column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('assignment_coverage',
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_assignment_coverage_agency_id_agency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_assignment_coverage_assignment_id_assignment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_assignment_coverage_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('assignment_id', 'agency_id', name=op.f('pk_assignment_coverage'))
    )
    op.create_index('ix_assignment_coverage_course_agency', 'assignment_coverage', ['course_id', 'agency_id'], unique=False)
    op.create_index(op.f('ix_assignment_coverage_agency_id'), 'assignment_coverage', ['agency_id'], unique=False)
    from app.tracking import coverage  # the rule of what covers what lives there once
    session = Session(bind=op.get_bind())
    coverage.rebuild(session)
    session.flush()


def downgrade():
    op.drop_index(op.f('ix_assignment_coverage_agency_id'), table_name='assignment_coverage')
    op.drop_index('ix_assignment_coverage_course_agency', table_name='assignment_coverage')
    op.drop_table('assignment_coverage')
