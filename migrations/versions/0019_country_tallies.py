"""country pages: completions per subtree and week, and the choices picked per subtree and question

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.orm import Session


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('completion_tally',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.CheckConstraint('completed >= 0', name=op.f('ck_completion_tally_completed_not_negative')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_completion_tally_agency_id_agency')),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_completion_tally_course_id_course')),
    sa.PrimaryKeyConstraint('agency_id', 'course_id', 'week', name=op.f('pk_completion_tally'))
    )
    op.create_table('option_tally',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('question_version_id', sa.Integer(), nullable=False),
    sa.Column('choice_key', sa.String(length=40), nullable=False),
    sa.Column('chosen', sa.Integer(), nullable=False),
    sa.CheckConstraint('chosen >= 0', name=op.f('ck_option_tally_chosen_not_negative')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_option_tally_agency_id_agency')),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_option_tally_course_id_course')),
    sa.ForeignKeyConstraint(['question_version_id'], ['question_version.id'], name=op.f('fk_option_tally_question_version_id_question_version')),
    sa.PrimaryKeyConstraint('agency_id', 'course_id', 'question_version_id', 'choice_key', name=op.f('pk_option_tally'))
    )
    with op.batch_alter_table('option_tally', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_option_tally_question_version_id'), ['question_version_id'], unique=False)
    # Filled set-based from what is already there, by the recounts the app uses for bulk loads (one
    # INSERT … SELECT per tally, whatever the number of completions and answers).
    from app.tracking.tallies import rebuild_completion_tallies, rebuild_tallies

    session = Session(bind=op.get_bind())
    rebuild_completion_tallies(session)
    rebuild_tallies(session)
    session.flush()


def downgrade():
    with op.batch_alter_table('option_tally', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_option_tally_question_version_id'))
    op.drop_table('option_tally')
    op.drop_table('completion_tally')
