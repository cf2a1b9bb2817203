"""One-time links mailed to set a password: invitations to new accounts, and password resets.

A link carries the id of its `account_link` row, signed with the secret key (itsdangerous), so it
cannot be made up or altered; the row bounds its life (`expires_at`) and makes it single-use: using
it is one conditional UPDATE (`used_at IS NULL`), which only one of two simultaneous uses can win.
Issuing a new link of the same purpose retires the older ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session, contains_eager

from ..audit import record
from ..models import AccountLink, User, utcnow
from .services import UNUSABLE_PASSWORD_PREFIX, AccountError, find_user_by_login, set_own_password

#: what each kind of link is for, in the words of its e-mail and page
PURPOSE_LABELS = {"invitation": "đặt mật khẩu lần đầu", "reset": "đặt lại mật khẩu"}
#: where each kind of link opens (app/auth/link_views.py; tests check they match its routes)
_PATHS = {"invitation": "/account/invitation/", "reset": "/account/reset/"}


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"account-link:{purpose}")


def link_lifetime(purpose: str) -> timedelta:
    config = current_app.config
    if purpose == "invitation":
        return timedelta(days=config["INVITATION_LINK_DAYS"])
    return timedelta(minutes=config["RESET_LINK_MINUTES"])


def issue_link(session: Session, user: User, purpose: str, actor: User | None = None,
               now: datetime | None = None) -> AccountLink:
    """A new link for `user`; earlier unused links of the same purpose stop working."""
    now = now or utcnow()
    session.execute(update(AccountLink).where(
        AccountLink.user_id == user.id, AccountLink.purpose == purpose, AccountLink.used_at.is_(None))
        .values(used_at=now))
    link = AccountLink(user_id=user.id, purpose=purpose, created_at=now, expires_at=now + link_lifetime(purpose),
                       created_by_id=actor.id if actor is not None else None)
    session.add(link)
    session.flush()
    return link


def link_url(link: AccountLink) -> str:
    """The address to open from the e-mail (on PUBLIC_BASE_URL, the site people reach)."""
    token = _serializer(link.purpose).dumps(link.id)
    # Built by hand, not with url_for: the daily mail command has no request to build it from.
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}{_PATHS[link.purpose]}{token}"


def find_link(session: Session, token: str, purpose: str, now: datetime | None = None) -> AccountLink | None:
    """The live link this token names: signed by us, not expired, not used, its account active."""
    try:
        link_id = _serializer(purpose).loads(token)
    except BadSignature:
        return None
    if not isinstance(link_id, int):
        return None
    link = session.get(AccountLink, link_id)
    now = now or utcnow()
    if (link is None or link.purpose != purpose or link.used_at is not None or link.expires_at <= now
            or not link.user.is_active):
        return None
    return link


def use_link(session: Session, link: AccountLink, password: str, now: datetime | None = None) -> User:
    """Set the person's password through the link, once; every session they had ends."""
    from .passwords import validate_password

    user = link.user
    validate_password(password, user, field="new_password")
    now = now or utcnow()
    claimed = session.execute(update(AccountLink).where(AccountLink.id == link.id, AccountLink.used_at.is_(None))
                              .values(used_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise AccountError("Liên kết này đã được dùng.", field="new_password")
    session.refresh(link)
    set_own_password(session, user, password)
    record(session, user, f"user.password_set_by_{link.purpose}", user,
           summary=f"{PURPOSE_LABELS[link.purpose].capitalize()} qua liên kết gửi email")
    session.flush()
    return user


# -- mail -------------------------------------------------------------------------------------------

@dataclass
class LinkMail:
    to: str
    subject: str
    body: str


def invitation_mail(link: AccountLink) -> LinkMail:
    user, days = link.user, current_app.config["INVITATION_LINK_DAYS"]
    return LinkMail(user.email, "Mời bạn đặt mật khẩu: Học ứng xử trên mạng xã hội", (
        f"Chào {user.full_name},\n\n"
        f"Cơ quan đã tạo cho bạn tài khoản học Bộ Quy tắc ứng xử trên mạng xã hội.\n"
        f"Tên đăng nhập: {user.username}\n\n"
        f"Hãy mở liên kết sau để tự đặt mật khẩu (dùng được một lần, trong {days} ngày):\n{link_url(link)}\n\n"
        f"Sau đó đăng nhập tại {current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/auth/login\n\n"
        "Nếu bạn không phải người nhận thư này, hãy bỏ qua nó.\n"))


def reset_mail(link: AccountLink) -> LinkMail:
    user, minutes = link.user, current_app.config["RESET_LINK_MINUTES"]
    return LinkMail(user.email, "Đặt lại mật khẩu: Học ứng xử trên mạng xã hội", (
        f"Chào {user.full_name},\n\n"
        f"Có yêu cầu đặt lại mật khẩu cho tài khoản {user.username}.\n"
        f"Mở liên kết sau để chọn mật khẩu mới (dùng được một lần, trong {minutes} phút):\n{link_url(link)}\n\n"
        "Nếu bạn không yêu cầu, hãy bỏ qua thư này: mật khẩu hiện tại vẫn giữ nguyên.\n"))


def queue_invitations(session: Session, users: Iterable[User], actor: User | None = None,
                      now: datetime | None = None) -> list[AccountLink]:
    """An invitation for each person (mailed by `send_queued_invitations`); set-based, for imports of
    thousands: one UPDATE retiring earlier invitations and one INSERT per chunk."""
    now = now or utcnow()
    users = list(users)
    links = []
    for start in range(0, len(users), 500):
        chunk = users[start:start + 500]
        session.execute(update(AccountLink).where(
            AccountLink.user_id.in_([user.id for user in chunk]), AccountLink.purpose == "invitation",
            AccountLink.used_at.is_(None)).values(used_at=now).execution_options(synchronize_session=False))
        batch = [AccountLink(user_id=user.id, purpose="invitation", created_at=now,
                             expires_at=now + link_lifetime("invitation"),
                             created_by_id=actor.id if actor is not None else None) for user in chunk]
        session.add_all(batch)
        links.extend(batch)
    session.flush()
    if links:
        record(session, actor, "users.invited", ("invitation", links[0].id),
               after={"people": len(links)}, summary=f"Gửi thư mời đặt mật khẩu cho {len(links)} người")
        session.flush()
    return links


def queued_invitations(session: Session, limit: int | None = None) -> list[AccountLink]:
    query = (select(AccountLink).join(AccountLink.user).options(contains_eager(AccountLink.user))
             .where(AccountLink.purpose == "invitation", AccountLink.sent_at.is_(None),
                    AccountLink.used_at.is_(None), AccountLink.expires_at > utcnow(), User.is_active)
             .order_by(AccountLink.id).limit(limit))
    return list(session.scalars(query))


def send_queued_invitations(session: Session, mailer, limit: int | None = None,
                            progress: Callable[[int], None] | None = None) -> int:
    """Mail the invitations not sent yet (one SMTP connection); each is committed as it leaves."""
    links = queued_invitations(session, limit)
    if not links:
        return 0
    sent = 0
    with mailer:
        for link in links:
            mail = invitation_mail(link)
            mailer.send(mail.to, mail.subject, mail.body)
            link.sent_at = utcnow()
            session.commit()
            sent += 1
            if progress:
                progress(1)
    return sent


def invitable_users(session: Session, users_query) -> list[User]:
    """Of the people selected, the active ones who have never had a password of their own."""
    return list(session.scalars(users_query.where(
        User.is_active, User.password_hash.startswith(UNUSABLE_PASSWORD_PREFIX))))


def request_reset(session: Session, login: str) -> AccountLink | None:
    """A reset link for the active account named by `login` (username or e-mail), or None; the
    caller says the same thing either way, commits, and mails `reset_mail(link)` if there is one."""
    user = find_user_by_login(session, login)
    if user is None or not user.is_active:
        return None
    link = issue_link(session, user, "reset")
    link.sent_at = utcnow()
    record(session, None, "user.reset_requested", user, summary=f"Yêu cầu đặt lại mật khẩu cho {user.username}")
    session.flush()
    return link


def send_mail(mailer, mail: LinkMail) -> None:
    with mailer:
        mailer.send(mail.to, mail.subject, mail.body)
