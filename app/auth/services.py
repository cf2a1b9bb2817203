"""Account services: hashing, authenticating, creating, editing and deactivating users, roles.

Every change made by an administrator writes an audit record (who, what, before and after);
users are never deleted, only deactivated, so their history stays.
"""
from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..audit import record
from ..content.text import strip_diacritics
from ..models import Agency, ManagerScope, User, utcnow
from .sessions import end_all_sessions

#: a stored hash that no password matches (werkzeug needs "method$salt$hash"): imported accounts
#: get one until an administrator sets a password
UNUSABLE_PASSWORD_PREFIX = "!"
#: letters and digits that cannot be mistaken for one another when read aloud or copied by hand
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"


class AccountError(ValueError):
    """A rule about accounts was broken; the message is for the user, in Vietnamese."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def unusable_password_hash() -> str:
    """A value for `password_hash` that no password can match; cheap, so bulk imports stay fast."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(16)


def has_usable_password(user: User) -> bool:
    return not user.password_hash.startswith(UNUSABLE_PASSWORD_PREFIX)


def temporary_password(length: int = 12) -> str:
    """A random password for an administrator to hand over once."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def normalise_name(text: str) -> str:
    """A person's name as stored: composed Unicode, single spaces."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def normalise_email(text: str) -> str:
    return text.strip().lower()


def normalise_employee_code(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def find_user_by_login(session: Session, login: str) -> User | None:
    login = login.strip().lower()
    return session.scalar(
        select(User).where(or_(func.lower(User.username) == login, func.lower(User.email) == login))
    )


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def authenticate(session: Session, login: str, password: str, *, known_device: bool = False) -> User | None:
    """The active user with this username or email and password, or None (never says which failed).

    LOGIN_LOCKOUT_THRESHOLD failures in a row lock the account for LOGIN_LOCKOUT_MINUTES; while
    it is locked the right password is refused, except from a `known_device` (one this account has
    signed in from before, views.known_device_user_id), so that nobody can keep a person out by
    failing on purpose. Every path costs one hash of the password typed (an imported account
    without a password too), so neither the answer nor its time tells whether the account exists,
    has a password, is locked, or is inactive. The caller commits either way, so failures count.
    """
    user = find_user_by_login(session, login)
    if user is None:
        hash_password(password)
        return None
    now = utcnow()
    if has_usable_password(user):
        matches = user.check_password(password)
    else:  # "!…" matches nothing at once: spend what checking a real hash would cost
        hash_password(password)
        matches = False
    if is_locked(user, now) and not (matches and known_device and user.is_active):
        return None
    if user.locked_until is not None:  # the lock has run out: start counting afresh
        user.locked_until = None
        user.failed_logins = 0
    if not matches or not user.is_active:
        _count_failed_login(session, user, now)
        return None
    user.failed_logins = 0
    user.last_login_at = now
    return user


def _count_failed_login(session: Session, user: User, now: datetime) -> None:
    config = current_app.config
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= config["LOGIN_LOCKOUT_THRESHOLD"]:
        user.locked_until = now + timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"])
        user.failed_logins = 0
        record(session, None, "user.locked", user, after={"locked_until": user.locked_until.isoformat()},
               summary=f"Khóa tạm tài khoản {user.username} sau {config['LOGIN_LOCKOUT_THRESHOLD']} "
                       "lần đăng nhập sai liên tiếp")
    session.flush()


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise AccountError("Mật khẩu hiện tại không đúng.", field="current_password")
    if current == new:
        raise AccountError("Mật khẩu mới phải khác mật khẩu hiện tại.", field="new_password")
    from .passwords import validate_password  # passwords.py imports AccountError from here

    validate_password(new, user, field="new_password")
    set_own_password(session, user, new)
    record(session, user, "user.password_changed", user, summary="Đổi mật khẩu")
    session.flush()


def set_own_password(session: Session, user: User, new: str) -> None:
    """The person chose this password (checked by the caller): it is no longer a temporary one, and
    every session opened with the old one ends (the caller keeps the current browser signed in)."""
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    user.failed_logins, user.locked_until = 0, None
    end_all_sessions(session, user)


def create_user(session: Session, *, username: str, email: str, full_name: str, agency: Agency,
                password: str, employee_code: str | None = None, is_trainer: bool = False,
                is_admin: bool = False, manages: list[Agency] | None = None,
                actor: User | None = None, temporary: bool = False) -> User:
    username = username.strip().lower()
    email = normalise_email(email)
    employee_code = normalise_employee_code(employee_code)
    _check_unique(session, None, username=username, email=email, employee_code=employee_code)
    user = User(username=username, email=email, full_name=normalise_name(full_name),
                search_name=strip_diacritics(normalise_name(full_name)), agency=agency,
                employee_code=employee_code, password_hash=hash_password(password),
                is_trainer=is_trainer, is_admin=is_admin, must_change_password=temporary)
    user.manager_scopes = [ManagerScope(agency=scope) for scope in manages or []]
    session.add(user)
    session.flush()
    record(session, actor, "user.created", user, summary=f"Tạo tài khoản {username}",
           after={"username": username, "email": email, "full_name": user.full_name,
                  "employee_code": employee_code, "agency": agency.code, "roles": user.role_labels,
                  "manages": [scope.code for scope in manages or []]})
    session.flush()
    return user


def _check_unique(session: Session, user: User | None, *, username: str | None = None,
                  email: str | None = None, employee_code: str | None = None) -> None:
    """Refuse a username, email or employee code already held by another account."""
    others = [User.id != user.id] if user is not None else []
    if username is not None and session.scalar(
            select(User.id).where(func.lower(User.username) == username, *others)):
        raise AccountError(f"Tên đăng nhập «{username}» đã được dùng.", field="username")
    if email is not None and session.scalar(select(User.id).where(func.lower(User.email) == email, *others)):
        raise AccountError(f"Email «{email}» đã được dùng.", field="email")
    if employee_code is not None and session.scalar(
            select(User.id).where(User.employee_code == employee_code, *others)):
        raise AccountError(f"Mã cán bộ «{employee_code}» đã được dùng.", field="employee_code")


#: fields an administrator edits on the user page, with their Vietnamese labels
USER_FIELDS = {"username": "Tên đăng nhập", "email": "Email", "full_name": "Họ và tên",
               "employee_code": "Mã cán bộ", "agency": "Cơ quan"}


def update_user(session: Session, user: User, *, actor: User | None, username: str, email: str,
                full_name: str, employee_code: str | None, agency: Agency) -> dict:
    """Change an account's details; returns {field: (before, after)} of what changed."""
    wanted = {"username": username.strip().lower(), "email": normalise_email(email),
              "full_name": normalise_name(full_name),
              "employee_code": normalise_employee_code(employee_code)}
    if not wanted["full_name"]:
        raise AccountError("Vui lòng nhập họ và tên.", field="full_name")
    if not agency.is_active:
        raise AccountError(f"Cơ quan «{agency.name}» đã ngừng hoạt động (đã hợp nhất).", field="agency")
    changed = {key: (getattr(user, key), value) for key, value in wanted.items() if getattr(user, key) != value}
    _check_unique(session, user, **{key: wanted[key] for key in changed
                                    if key in ("username", "email", "employee_code")})
    for key, (_, value) in changed.items():
        setattr(user, key, value)
    if "full_name" in changed:
        user.search_name = strip_diacritics(wanted["full_name"])
    if agency.id != user.agency_id:
        changed["agency"] = (user.agency.code, agency.code)
        user.agency = agency
    if changed:
        session.flush()
        record(session, actor, "user.updated", user, summary=f"Sửa thông tin {user.username}",
               before={key: old for key, (old, _) in changed.items()},
               after={key: new for key, (_, new) in changed.items()})
        session.flush()
    return changed


def set_active(session: Session, user: User, active: bool, actor: User | None = None) -> bool:
    """Deactivate (never delete) or reactivate an account; returns True when it changed."""
    if not active and actor is not None and actor.id == user.id:
        raise AccountError("Bạn không thể tự vô hiệu hóa tài khoản của mình.")
    if user.is_active == active:
        return False
    user.is_active = active
    if not active:  # and reactivating later does not bring the old sessions back
        end_all_sessions(session, user)
    session.flush()
    record(session, actor, "user.reactivated" if active else "user.deactivated", user,
           before={"is_active": not active}, after={"is_active": active},
           summary=f"{'Kích hoạt lại' if active else 'Vô hiệu hóa'} tài khoản {user.username}")
    session.flush()
    return True


def set_roles(session: Session, user: User, *, is_trainer: bool, is_admin: bool,
              actor: User | None = None) -> dict:
    """Grant or revoke the trainer and administrator roles; an admin cannot drop their own."""
    if actor is not None and actor.id == user.id and user.is_admin and not is_admin:
        raise AccountError("Bạn không thể tự bỏ quyền quản trị của mình.", field="is_admin")
    changed = {key: (getattr(user, key), value)
               for key, value in (("is_trainer", is_trainer), ("is_admin", is_admin))
               if getattr(user, key) != value}
    if changed:
        for key, (_, value) in changed.items():
            setattr(user, key, value)
        session.flush()
        record(session, actor, "user.roles_changed", user, summary=f"Đổi vai trò của {user.username}",
               before={key: old for key, (old, _) in changed.items()},
               after={key: new for key, (_, new) in changed.items()})
        session.flush()
    return changed


def grant_scope(session: Session, user: User, agency: Agency, actor: User | None = None) -> ManagerScope:
    """Make `user` a manager of `agency` and everything below it."""
    if not agency.is_active:
        raise AccountError(f"Cơ quan «{agency.name}» đã ngừng hoạt động (đã hợp nhất).", field="agency")
    if any(scope.agency_id == agency.id for scope in user.manager_scopes):
        raise AccountError(f"{user.full_name} đã quản lý {agency.name}.", field="agency")
    scope = ManagerScope(agency=agency)
    user.manager_scopes.append(scope)
    session.flush()
    record(session, actor, "user.scope_granted", user, after={"manages": agency.code},
           summary=f"Giao cho {user.username} quản lý {agency.code}: {agency.name}")
    session.flush()
    return scope


def revoke_scope(session: Session, user: User, scope: ManagerScope, actor: User | None = None) -> None:
    if scope.user_id != user.id:
        raise AccountError("Phạm vi quản lý không thuộc tài khoản này.")
    agency = scope.agency
    user.manager_scopes.remove(scope)  # delete-orphan: the row goes
    session.flush()
    record(session, actor, "user.scope_revoked", user, before={"manages": agency.code},
           summary=f"Thu hồi quyền quản lý {agency.code}: {agency.name} của {user.username}")
    session.flush()


def reset_password(session: Session, user: User, password: str, actor: User | None = None,
                   temporary: bool = True) -> None:
    """Set a new password chosen by an administrator (or the command line); every session of the
    person ends. A `temporary` one must be changed at the next sign-in before anything else."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = temporary
    user.failed_logins, user.locked_until = 0, None  # a new password also lifts a lockout
    end_all_sessions(session, user)
    record(session, actor, "user.password_reset", user, summary=f"Đặt lại mật khẩu cho {user.username}",
           after={"temporary": temporary})
    session.flush()
