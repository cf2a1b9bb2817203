"""Account services: hashing, authenticating, creating users and changing passwords."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..content.text import strip_diacritics
from ..models import Agency, AuditLog, ManagerScope, User, utcnow


class AccountError(ValueError):
    """A rule about accounts was broken; the message is for the user, in Vietnamese."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def find_user_by_login(session: Session, login: str) -> User | None:
    login = login.strip().lower()
    return session.scalar(
        select(User).where(or_(func.lower(User.username) == login, func.lower(User.email) == login))
    )


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The active user with this username or email and password, or None (never says which failed)."""
    user = find_user_by_login(session, login)
    if user is None:
        # Hash anyway so the response time does not reveal whether the account exists.
        hash_password(password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    user.last_login_at = utcnow()
    return user


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise AccountError("Mật khẩu hiện tại không đúng.", field="current_password")
    if current == new:
        raise AccountError("Mật khẩu mới phải khác mật khẩu hiện tại.", field="new_password")
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    session.add(AuditLog(actor_id=user.id, action="user.password_changed", object_type="user",
                         object_id=str(user.id), summary="Đổi mật khẩu"))
    session.flush()


def create_user(session: Session, *, username: str, email: str, full_name: str, agency: Agency,
                password: str, employee_code: str | None = None, is_trainer: bool = False,
                is_admin: bool = False, manages: list[Agency] | None = None,
                actor: User | None = None) -> User:
    username = username.strip().lower()
    email = email.strip().lower()
    if session.scalar(select(User.id).where(func.lower(User.username) == username)):
        raise AccountError(f"Tên đăng nhập «{username}» đã được dùng.", field="username")
    if session.scalar(select(User.id).where(func.lower(User.email) == email)):
        raise AccountError(f"Email «{email}» đã được dùng.", field="email")
    user = User(username=username, email=email, full_name=full_name.strip(),
                search_name=strip_diacritics(full_name.strip()), agency=agency,
                employee_code=employee_code, password_hash=hash_password(password),
                is_trainer=is_trainer, is_admin=is_admin)
    user.manager_scopes = [ManagerScope(agency=scope) for scope in manages or []]
    session.add(user)
    session.flush()
    session.add(AuditLog(actor_id=actor.id if actor else None, action="user.created",
                         object_type="user", object_id=str(user.id), summary=f"Tạo tài khoản {username}",
                         after={"username": username, "email": email, "agency": agency.code,
                                "roles": user.role_labels}))
    session.flush()
    return user


def reset_password(session: Session, user: User, password: str, actor: User | None = None) -> None:
    """Set a new password chosen by an administrator (or the command line)."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session.add(AuditLog(actor_id=actor.id if actor else None, action="user.password_reset",
                         object_type="user", object_id=str(user.id),
                         summary=f"Đặt lại mật khẩu cho {user.username}"))
    session.flush()
