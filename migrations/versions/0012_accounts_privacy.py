"""accounts and privacy: versioned sessions, temporary passwords, invitation and reset links; the
privacy notice, correction requests, the access trace and retention settings

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07 04:40:00

Every existing session and remember-me cookie names a user id only, which the new loader does not
accept: everyone signs in once more after the upgrade.
"""
from alembic import op
import sqlalchemy as sa
import app.models  # noqa: F401  (custom column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0009'
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


def downgrade():
    with op.batch_alter_table('account_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_link_user_id'))
    op.drop_table('account_link')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('privacy_notice_seen_at')
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('session_version')
