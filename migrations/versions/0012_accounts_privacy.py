"""accounts and privacy: versioned sessions, temporary passwords, invitation and reset links; the
privacy notice, correction requests, the access trace and retention settings

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 04:40:00

Every existing session and remember-me cookie names a user id only, which the new loader does not
accept: everyone signs in once more after the upgrade.
"""
from alembic import op
import sqlalchemy as sa
import app.models  # noqa: F401  (custom column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('privacy_notice_seen_at', app.models.UTCDateTime(), nullable=True))
    op.create_table('account_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('created_at', app.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', app.models.UTCDateTime(), nullable=False),
    sa.Column('sent_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('used_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("purpose IN ('invitation', 'reset')", name=op.f('ck_account_link_purpose_known')),
    sa.CheckConstraint('expires_at > created_at', name=op.f('ck_account_link_expires_after_creation')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_account_link_created_by_id_user')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_account_link_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_link'))
    )
    with op.batch_alter_table('account_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_link_user_id'), ['user_id'], unique=False)
    op.create_table('privacy_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', app.models.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_privacy_notice_created_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_notice'))
    )
    op.create_table('correction_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', app.models.UTCDateTime(), nullable=False),
    sa.Column('handled_at', app.models.UTCDateTime(), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('response', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'done', 'rejected')", name=op.f('ck_correction_request_status_known')),
    sa.CheckConstraint("(status = 'open') = (handled_at IS NULL)", name=op.f('ck_correction_request_handled_when_closed')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['user.id'], name=op.f('fk_correction_request_handled_by_id_user')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_correction_request_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_correction_request'))
    )
    with op.batch_alter_table('correction_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_correction_request_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_correction_request_user_id'), ['user_id'], unique=False)
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', app.models.UTCDateTime(), nullable=False),
    sa.Column('viewer_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('agency_path', sa.String(length=1000), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.CheckConstraint("action IN ('person.viewed', 'list.exported')", name=op.f('ck_access_log_action_known')),
    sa.CheckConstraint("(action = 'person.viewed') = (subject_id IS NOT NULL)", name=op.f('ck_access_log_subject_of_a_view')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_access_log_agency_id_agency')),
    sa.ForeignKeyConstraint(['subject_id'], ['user.id'], name=op.f('fk_access_log_subject_id_user')),
    sa.ForeignKeyConstraint(['viewer_id'], ['user.id'], name=op.f('fk_access_log_viewer_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index('ix_access_log_agency_path', ['agency_path'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_viewer_id'), ['viewer_id'], unique=False)
    op.create_table('retention_setting',
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('updated_at', app.models.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('answers', 'commitment_network', 'reminders', 'access_log', 'account_links', 'corrections')", name=op.f('ck_retention_setting_kind_known')),
    sa.CheckConstraint('months > 0', name=op.f('ck_retention_setting_months_positive')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_retention_setting_updated_by_id_user')),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_retention_setting'))
    )


def downgrade():
    op.drop_table('retention_setting')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_viewer_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_subject_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_at'))
        batch_op.drop_index('ix_access_log_agency_path')
    op.drop_table('access_log')
    with op.batch_alter_table('correction_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_correction_request_user_id'))
        batch_op.drop_index(batch_op.f('ix_correction_request_status'))
    op.drop_table('correction_request')
    op.drop_table('privacy_notice')
    with op.batch_alter_table('account_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_link_user_id'))
    op.drop_table('account_link')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('privacy_notice_seen_at')
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('session_version')
