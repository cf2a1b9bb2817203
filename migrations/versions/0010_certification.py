"""certification: completions valid until an expiry, assignments with validity and recertification instead of cycles, cancelled assignments kept; progress summaries per status

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:30:00

Today's data is carried over without changing anyone's status, except where the old rule ("the
assignment that started last governs; completions before its start no longer count") had reset it:

- A one-off assignment keeps its dates; its completions never expire (expires_at stays NULL).
- A recurring assignment (recurrence_months R) becomes a recertifying one: validity R months, due
  date its current cycle's due date, and a window as long as its cycle ran from start to due date.
  A current completion made in the current cycle expires at the NEXT cycle's due date: the window
  then opens exactly when the old rule would have started the next cycle, and the person is due by
  the date the old rule would have given. A person under several recurring assignments takes the
  earliest such expiry.
- Completions the old rule archived stay archived. Current completions made before the start of a
  later assignment count again: those people were wrongly reset.

The progress summaries are derived data: they are emptied, and counted again by `flask tracking
refresh-progress` (run by `make serve` on deploy); meanwhile the dashboards count person by person.
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa
import app.models  # noqa: F401  (custom column types such as UTCDateTime)
from app.tracking.rules import add_months


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _aware(value):
    """A datetime read back from either database, as aware UTC (SQLite returns text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _moment(name):
    return sa.bindparam(name, type_=app.models.UTCDateTime())


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.add_column(sa.Column('validity_months', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_course_validity_positive'),
                                         'validity_months IS NULL OR validity_months > 0')
    with op.batch_alter_table('course_completion', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', app.models.UTCDateTime(), nullable=True))
        batch_op.drop_index('ix_course_completion_course_time')
    op.create_index('ix_course_completion_course_time', 'course_completion',
                    ['course_id', 'completed_at', 'agency_id'], unique=False,
                    sqlite_where=sa.text('archived_at IS NULL'), postgresql_where=sa.text('archived_at IS NULL'))
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('validity_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('recertify_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', app.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', app.models.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_assignment_cancelled_by_id_user'), 'user', ['cancelled_by_id'], ['id'])

    # -- carry the data over (see the docstring) --
    assignments = bind.execute(sa.text(
        "SELECT a.id, a.course_id, g.path, a.starts_at, a.recurrence_months, a.cycle_start_at, a.cycle_due_at, "
        "a.is_active FROM assignment a JOIN agency g ON g.id = a.agency_id")).all()
    now = datetime.now(timezone.utc)
    for row in assignments:
        if row.recurrence_months:
            start, due = _aware(row.cycle_start_at), _aware(row.cycle_due_at)
            window = max(1, (due - start).days)
            if window >= row.recurrence_months * 28:
                window = row.recurrence_months * 28 - 1
            bind.execute(sa.text("UPDATE assignment SET validity_months = :months, recertify_days = :days, "
                                 "due_at = :due WHERE id = :id").bindparams(_moment("due")),
                         {"months": row.recurrence_months, "days": window, "id": row.id, "due": due})
    recurring = [row for row in assignments if row.recurrence_months and row.is_active
                 and _aware(row.starts_at) <= now]
    if recurring:
        completions = bind.execute(sa.text(
            "SELECT c.id, c.course_id, c.completed_at, g.path FROM course_completion c "
            "JOIN \"user\" u ON u.id = c.user_id JOIN agency g ON g.id = u.agency_id "
            "WHERE c.archived_at IS NULL")).all()
        for completion in completions:
            completed_at = _aware(completion.completed_at)
            expiries = []
            for row in recurring:
                if row.course_id != completion.course_id or not completion.path.startswith(row.path):
                    continue
                if completed_at >= _aware(row.cycle_start_at):  # made in the current cycle
                    expiries.append(add_months(_aware(row.cycle_due_at), row.recurrence_months))
                else:  # predates the cycle (moved in, or given later): a certification of its own length
                    expiries.append(add_months(completed_at, row.recurrence_months))
            if expiries:
                expires = max(min(expiries), completed_at + timedelta(seconds=1))
                bind.execute(sa.text("UPDATE course_completion SET expires_at = :expires WHERE id = :id")
                             .bindparams(_moment("expires")), {"id": completion.id, "expires": expires})

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_assignment_cycle_positive'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_assignment_recurrence_positive'), type_='check')
        batch_op.drop_column('cycle_number')
        batch_op.drop_column('cycle_start_at')
        batch_op.drop_column('cycle_due_at')
        batch_op.drop_column('recurrence_months')
        batch_op.create_check_constraint(batch_op.f('ck_assignment_validity_positive'),
                                         'validity_months IS NULL OR validity_months > 0')
        batch_op.create_check_constraint(
            batch_op.f('ck_assignment_recertify_needs_validity'),
            'recertify_days IS NULL OR (recertify_days > 0 AND validity_months IS NOT NULL)')
    with op.batch_alter_table('course_completion', schema=None) as batch_op:
        batch_op.create_check_constraint(batch_op.f('ck_course_completion_expires_after_completion'),
                                         'expires_at IS NULL OR expires_at > completed_at')

    # -- the summaries: derived, counted again on deploy --
    with op.batch_alter_table('agency_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_progress_course_id'))
    op.drop_table('agency_progress')
    op.drop_table('progress_cycle')
    _create_summaries()


def _create_summaries():
    op.create_table('agency_progress',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('in_progress', sa.Integer(), nullable=False),
    sa.Column('not_started', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('next_due_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('due_in_progress', sa.Integer(), nullable=False),
    sa.Column('due_not_started', sa.Integer(), nullable=False),
    sa.Column('counted_at', app.models.UTCDateTime(), nullable=False),
    sa.Column('stable_from', app.models.UTCDateTime(), nullable=True),
    sa.Column('stable_until', app.models.UTCDateTime(), nullable=True),
    sa.CheckConstraint('completed >= 0 AND in_progress >= 0 AND not_started >= 0 AND overdue >= 0',
                       name=op.f('ck_agency_progress_counts_not_negative')),
    sa.CheckConstraint('due_in_progress BETWEEN 0 AND in_progress AND due_not_started BETWEEN 0 AND not_started',
                       name=op.f('ck_agency_progress_due_within_counts')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_agency_progress_agency_id_agency')),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_agency_progress_course_id_course')),
    sa.PrimaryKeyConstraint('agency_id', 'course_id', name=op.f('pk_agency_progress'))
    )
    with op.batch_alter_table('agency_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_progress_course_id'), ['course_id'], unique=False)
    _create_progress_cycle('starts_at')


def _create_progress_cycle(start_column: str):
    """The start each assignment was counted with: `starts_at` now, `cycle_start_at` before."""
    op.create_table('progress_cycle',
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column(start_column, app.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_progress_cycle_assignment_id_assignment')),
    sa.PrimaryKeyConstraint('assignment_id', name=op.f('pk_progress_cycle'))
    )


def downgrade():
    """Back to cycles: a recertifying assignment becomes a recurring one in its first cycle (the
    completions' validity is dropped); cancelled assignments stay closed."""
    with op.batch_alter_table('agency_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_progress_course_id'))
    op.drop_table('agency_progress')
    op.drop_table('progress_cycle')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recurrence_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cycle_number', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('cycle_start_at', app.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('cycle_due_at', app.models.UTCDateTime(), nullable=True))
    op.execute("UPDATE assignment SET recurrence_months = CASE WHEN recertify_days IS NOT NULL "
               "THEN validity_months END, cycle_start_at = starts_at, cycle_due_at = due_at")
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.alter_column('cycle_start_at', nullable=False)
        batch_op.alter_column('cycle_due_at', nullable=False)
        batch_op.drop_constraint(batch_op.f('ck_assignment_validity_positive'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_assignment_recertify_needs_validity'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_assignment_cancelled_by_id_user'), type_='foreignkey')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('cancelled_by_id')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('recertify_days')
        batch_op.drop_column('validity_months')
        batch_op.create_check_constraint(batch_op.f('ck_assignment_cycle_positive'), 'cycle_number >= 1')
        batch_op.create_check_constraint(batch_op.f('ck_assignment_recurrence_positive'),
                                         'recurrence_months IS NULL OR recurrence_months > 0')
    op.drop_index('ix_course_completion_course_time', table_name='course_completion')
    op.create_index('ix_course_completion_course_time', 'course_completion',
                    ['course_id', 'completed_at', 'agency_id'], unique=False)
    with op.batch_alter_table('course_completion', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_course_completion_expires_after_completion'), type_='check')
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_course_validity_positive'), type_='check')
        batch_op.drop_column('validity_months')
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
    _create_progress_cycle('cycle_start_at')
