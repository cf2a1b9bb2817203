"""Typed models shared by every feature: the agency tree, accounts, sources and the curriculum.

Invariants live in the database as named constraints. Progress, attempts and assignments arrive
with the features that use them, each in its own migration.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime: store aware UTC datetimes only")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def upsert_insert(session):
    """The INSERT construct of the session's database, the one that knows ON CONFLICT."""
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


AGENCY_KINDS = ("ministry", "province", "department", "commune", "unit", "other")
AGENCY_KIND_LABELS = {
    "ministry": "Bộ, ngành",
    "province": "Tỉnh, thành phố",
    "department": "Sở, ban, ngành",
    "commune": "Xã, phường",
    "unit": "Đơn vị",
    "other": "Khác",
}


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Agency(db.Model):
    """An agency in the administrative tree (ministry or province → department or commune → unit).

    The tree is stored twice: `parent_id` is the authoritative edge, and `path` is a materialised
    path of ids ("/1/4/17/"). We chose a materialised path over a recursive CTE because a subtree
    is then one indexable predicate (`path LIKE '/1/4/%'`) that works identically on SQLite and
    PostgreSQL and joins straight into aggregate dashboard queries over tens of thousands of staff,
    and moving a subtree is a single UPDATE that rewrites the prefix. A merged agency is kept
    (inactive, `merged_into_id` set) so history that names it stays intact.
    """

    __tablename__ = "agency"
    __table_args__ = (
        CheckConstraint(_in_list("kind", AGENCY_KINDS), name="kind_known"),
        CheckConstraint("depth >= 0", name="depth_non_negative"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    #: the name without diacritics, lower case ("xa an binh"), set with the name: the people list's
    #: agency search box matches it (migration 0017)
    search_name: Mapped[str] = mapped_column(String(255), default="", server_default="")
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    #: ids from the root down to this agency, e.g. "/1/4/17/"; a subtree is `path LIKE '/1/4/%'`
    path: Mapped[str] = mapped_column(String(1000), default="", index=True)
    #: 0 for a root
    depth: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: set when this agency was merged into another; it stays for history
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    #: False: its staff sign in only through the province's directory (app/directory), never with
    #: a password kept by the app
    local_passwords_allowed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=db.true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: its documents' symbol, e.g. "UBND" in "Số: 12/BC-UBND" (the PDF report; migration 0015)
    document_symbol: Mapped[str] = mapped_column(String(40), default="", server_default="")
    #: who signs its reports, e.g. "Chủ tịch", and their name (empty: written by hand)
    signer_title: Mapped[str] = mapped_column(String(120), default="", server_default="")
    signer_name: Mapped[str] = mapped_column(String(120), default="", server_default="")

    parent: Mapped[Agency | None] = relationship(
        remote_side=[id], foreign_keys=[parent_id], back_populates="children"
    )
    children: Mapped[list[Agency]] = relationship(
        foreign_keys=[parent_id], back_populates="parent", order_by="Agency.name"
    )
    users: Mapped[list[User]] = relationship(back_populates="agency")

    @validates("name")
    def _fold_name(self, _key, name: str) -> str:
        from .content.text import strip_diacritics

        self.search_name = strip_diacritics(name or "")
        return name

    @property
    def kind_label(self) -> str:
        return AGENCY_KIND_LABELS.get(self.kind, self.kind)

    def subtree_filter(self):
        """A predicate selecting this agency and every agency below it."""
        return Agency.path.startswith(self.path, autoescape=True)

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def __repr__(self) -> str:
        return f"<Agency {self.code}>"


class User(UserMixin, db.Model):
    """A person with an account. Everyone is a learner; other roles are flags and scopes."""

    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("length(username) >= 3", name="username_length"),
        # The active staff of each agency (and the name they are listed by), read by every dashboard
        # and people list without touching the table.
        Index("ix_user_active_agency", "agency_id", "id", "search_name",
              sqlite_where=db.text("is_active = 1"), postgresql_where=db.text("is_active")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    #: full name without diacritics, lower case ("nguyen van a"), kept in step by the services
    search_name: Mapped[str] = mapped_column(String(255), default="", server_default="", index=True)
    #: the agency's own staff number; unique when given
    employee_code: Mapped[str | None] = mapped_column(String(50), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True,
                                            active_history=True)  # the agency it leaves is recounted (tracking.progress)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_trainer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: failed sign-ins in a row; reset by a successful one (see auth.services.authenticate)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: no sign-in is accepted before this moment, even with the right password
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: part of every session and remember-me cookie; raising it ends all of them (app/auth/sessions.py)
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: the password was set by someone else (an administrator, a printed slip): nothing but choosing
    #: a new one is reachable until it is changed
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=db.false())
    #: when the person acknowledged the privacy notice; None shows it to them (app/privacy)
    privacy_notice_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship(back_populates="users", active_history=True)
    #: loaded with the user (scopes and their agencies in one extra query): every page checks them
    manager_scopes: Mapped[list[ManagerScope]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def session_token(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie (its `id_attribute`)."""
        from .auth.sessions import session_token

        return session_token(self)

    @property
    def is_manager(self) -> bool:
        return bool(self.manager_scopes)

    @property
    def role_labels(self) -> list[str]:
        labels = ["Học viên"]
        if self.is_manager:
            labels.append("Quản lý")
        if self.is_trainer:
            labels.append("Giảng viên")
        if self.is_admin:
            labels.append("Quản trị")
        return labels

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class ManagerScope(db.Model):
    """A manager's right over one agency subtree (the agency and everything below it)."""

    __tablename__ = "manager_scope"
    __table_args__ = (UniqueConstraint("user_id", "agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="manager_scopes")
    agency: Mapped[Agency] = relationship(lazy="joined")


SOURCE_KINDS = ("letter", "law", "decree", "decision", "resolution")


class Source(db.Model):
    """A document the curriculum cites. Only letters ship their text, and only they are quoted."""

    __tablename__ = "source"
    __table_args__ = (CheckConstraint(_in_list("kind", SOURCE_KINDS), name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(80))
    issuer: Mapped[str] = mapped_column(String(255))
    #: as precise as the document gives it, e.g. "5/2021"
    date_text: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    #: what has changed since the document was issued (amended, replaced, agencies merged)
    status_note: Mapped[str] = mapped_column(Text, default="")
    file_name: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str | None] = mapped_column(Text)
    province: Mapped[str | None] = mapped_column(String(120))
    officials: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: reporting contacts exactly as the letter gives them
    contacts: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the current reporting contact for the province, set by an administrator (not from files)
    current_contact: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))

    @property
    def has_number(self) -> bool:
        """A letter registered without its number reads "/UBND-VX": only the symbol, no number."""
        return bool(self.number) and not self.number.startswith("/")

    @property
    def label(self) -> str:
        if not self.has_number:
            return f"Văn bản của {self.issuer} ({self.date_text})"
        return f"{self.number} ({self.issuer}, {self.date_text})"

    @property
    def short_label(self) -> str:
        """In a citation: "5028/CAT-ANMCNC, Công an tỉnh Tuyên Quang", or the issuer and date."""
        if not self.has_number:
            return f"{self.issuer}, {self.date_text}"
        return f"{self.number}, {self.issuer}"


CONTENT_STATUSES = ("draft", "published", "retired")


class Course(db.Model):
    __tablename__ = "course"
    __table_args__ = (CheckConstraint(_in_list("status", CONTENT_STATUSES), name="status_known"),
                      CheckConstraint("validity_months IS NULL OR validity_months > 0", name="validity_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="published")
    content_hash: Mapped[str] = mapped_column(String(64))
    #: how long a completion stays valid when no assignment says (None: no expiry); the default of
    #: a new assignment's validity
    validity_months: Mapped[int | None] = mapped_column(Integer)

    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="course", order_by="Lesson.position"
    )


class Lesson(db.Model):
    """A lesson of a course; the body is Markdown, sanitised when rendered."""

    __tablename__ = "lesson"
    __table_args__ = (
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("minutes BETWEEN 1 AND 60", name="minutes_range"),
        CheckConstraint(_in_list("status", CONTENT_STATUSES), name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text, default="")
    minutes: Mapped[int] = mapped_column(Integer)
    body_md: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="published")
    #: the file it was loaded from, relative to the content folder
    source_file: Mapped[str | None] = mapped_column(String(255))
    #: the front matter's `sources`: every source the lesson cites, in the file's order
    source_slugs: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    #: slug and title without diacritics, lower case, for the authoring list's search
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship(back_populates="lessons")
    citations: Mapped[list[Citation]] = relationship(
        back_populates="lesson", order_by="Citation.position", cascade="all, delete-orphan"
    )


class Citation(db.Model):
    """A lesson or a question version pointing at a source, with an optional verbatim quote."""

    __tablename__ = "citation"
    __table_args__ = (
        CheckConstraint(
            "(lesson_id IS NULL) <> (question_version_id IS NULL)", name="exactly_one_owner"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"), index=True)
    lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lesson.id", ondelete="CASCADE"), index=True
    )
    question_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_version.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=1)
    #: where in the source, in the source's own words ("Điều 101 khoản 1", "mục 1")
    location: Mapped[str] = mapped_column(String(255), default="")
    #: verbatim text of the source's file, or None for a paraphrase
    quote: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source] = relationship()
    lesson: Mapped[Lesson | None] = relationship(back_populates="citations")
    question_version: Mapped[QuestionVersion | None] = relationship(back_populates="citations")


class Topic(db.Model):
    __tablename__ = "topic"
    __table_args__ = (CheckConstraint("min_questions >= 0", name="min_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    group: Mapped[str] = mapped_column(String(40))
    min_questions: Mapped[int] = mapped_column(Integer, default=0)


#: the topics of a question's latest version, kept in step by the loader, for drawing by topic
question_topic = Table(
    "question_topic",
    db.metadata,
    Column("question_id", ForeignKey("question.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topic.id"), primary_key=True, index=True),
)

QUESTION_TYPES = ("single", "multiple", "true_false", "select_parts")
DIFFICULTIES = ("easy", "medium", "hard")
VERDICTS = ("violation", "lawful", "situation")


class Question(db.Model):
    """A question's identity. Its content lives in versions, so past attempts keep theirs."""

    __tablename__ = "question"
    __table_args__ = (
        CheckConstraint("latest_version >= 1", name="latest_version_positive"),
        CheckConstraint(_in_list("status", CONTENT_STATUSES), name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the bank file it was loaded from or is exported to, relative to the content folder's parent
    source_file: Mapped[str | None] = mapped_column(String(255))
    #: slug, prompt and scenario of the latest version without diacritics, for the authoring search
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    versions: Mapped[list[QuestionVersion]] = relationship(
        back_populates="question", order_by="QuestionVersion.version"
    )
    topics: Mapped[list[Topic]] = relationship(secondary=question_topic)

    def current_version_select(self):
        return select(QuestionVersion).where(
            QuestionVersion.question_id == self.id, QuestionVersion.version == self.latest_version
        )


class QuestionVersion(db.Model):
    """One immutable version of a question: a change creates a new row."""

    __tablename__ = "question_version"
    __table_args__ = (
        UniqueConstraint("question_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(_in_list("type", QUESTION_TYPES), name="type_known"),
        CheckConstraint(_in_list("difficulty", DIFFICULTIES), name="difficulty_known"),
        CheckConstraint(_in_list("verdict", VERDICTS), name="verdict_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(20))
    difficulty: Mapped[str] = mapped_column(String(10))
    verdict: Mapped[str] = mapped_column(String(20))
    #: the post or situation shown as a card: platform, kind, author, time, text or segments…
    scenario: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prompt: Mapped[str] = mapped_column(Text)
    #: [{"key": "a", "text": "…"}]; for select_parts, the scenario's segments
    choices: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    #: keys of the correct choices; never sent to a browser before submission
    correct_keys: Mapped[list[str]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text)
    topic_slugs: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the trainer who published it; None when it came from the files
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    question: Mapped[Question] = relationship(back_populates="versions")
    created_by: Mapped[User | None] = relationship()
    citations: Mapped[list[Citation]] = relationship(
        back_populates="question_version",
        order_by="Citation.position",
        cascade="all, delete-orphan",
    )


QUIZ_KINDS = ("lesson_check", "final", "practice")


class Quiz(db.Model):
    """A quiz drawn from the bank by pools; grading rules are stored here, enforced on the server."""

    __tablename__ = "quiz"
    __table_args__ = (
        CheckConstraint(_in_list("kind", QUIZ_KINDS), name="kind_known"),
        CheckConstraint("pass_percent BETWEEN 1 AND 100", name="pass_percent_range"),
        CheckConstraint(
            "time_limit_minutes IS NULL OR time_limit_minutes > 0", name="time_limit_positive"
        ),
        CheckConstraint("max_attempts IS NULL OR max_attempts > 0", name="max_attempts_positive"),
        CheckConstraint(_in_list("status", CONTENT_STATUSES), name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lesson.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    pass_percent: Mapped[int] = mapped_column(Integer)
    time_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    #: None means unlimited
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    counts_for_completion: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="published")
    content_hash: Mapped[str] = mapped_column(String(64))

    course: Mapped[Course] = relationship()
    lesson: Mapped[Lesson | None] = relationship()
    pools: Mapped[list[QuizPool]] = relationship(
        back_populates="quiz", order_by="QuizPool.position", cascade="all, delete-orphan"
    )

    @property
    def question_count(self) -> int:
        return sum(pool.draw_count for pool in self.pools)


quiz_pool_topic = Table(
    "quiz_pool_topic",
    db.metadata,
    Column("pool_id", ForeignKey("quiz_pool.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topic.id"), primary_key=True),
)
quiz_pool_question = Table(
    "quiz_pool_question",
    db.metadata,
    Column("pool_id", ForeignKey("quiz_pool.id", ondelete="CASCADE"), primary_key=True),
    Column("question_id", ForeignKey("question.id"), primary_key=True),
)


class QuizPool(db.Model):
    """Draw `draw_count` questions at random from those with any of `topics`, or from `questions`."""

    __tablename__ = "quiz_pool"
    __table_args__ = (
        UniqueConstraint("quiz_id", "position"),
        CheckConstraint("draw_count > 0", name="draw_count_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quiz.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    draw_count: Mapped[int] = mapped_column(Integer)

    quiz: Mapped[Quiz] = relationship(back_populates="pools")
    topics: Mapped[list[Topic]] = relationship(secondary=quiz_pool_topic)
    questions: Mapped[list[Question]] = relationship(secondary=quiz_pool_question)


class AuditLog(db.Model):
    """Who changed what and when. The application only ever appends to it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: None for the command line
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()


Index("ix_lesson_course_position", Lesson.course_id, Lesson.position)


# -- learning: progress, attempts, completions (migration 0002) ---------------------------------

class LessonProgress(db.Model):
    """A learner's progress through one lesson; done when they reached its end and confirmed."""

    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lesson: Mapped[Lesson] = relationship()


ATTEMPT_STATUSES = ("in_progress", "submitted")


class Attempt(db.Model):
    """One sitting of a quiz (or a practice drawn from the bank), graded once on the server.

    Exactly-once grading: submission is a conditional UPDATE (`… WHERE status = 'in_progress'`),
    so of two concurrent submissions only one changes the row; the partial unique index allows a
    single open attempt per learner and quiz, and (user, quiz, number) is unique.
    """

    __tablename__ = "attempt"
    __table_args__ = (
        UniqueConstraint("user_id", "quiz_id", "number"),
        CheckConstraint(_in_list("status", ATTEMPT_STATUSES), name="status_known"),
        CheckConstraint("(status = 'in_progress') = (submitted_at IS NULL)", name="submitted_iff_closed"),
        CheckConstraint("status = 'in_progress' OR score_percent IS NOT NULL", name="graded_when_closed"),
        CheckConstraint("number >= 1", name="number_positive"),
        Index("uq_attempt_one_open", "user_id", "quiz_id", unique=True,
              sqlite_where=db.text("status = 'in_progress'"),
              postgresql_where=db.text("status = 'in_progress'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    #: None for a practice attempt drawn from the bank
    quiz_id: Mapped[int | None] = mapped_column(ForeignKey("quiz.id"), index=True)
    #: 1 for the learner's first attempt at this quiz
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="in_progress")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: None when the quiz has no time limit; answers after it (plus a grace) are refused
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: True when the server closed it at the deadline rather than the learner
    expired: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float | None] = mapped_column()
    score_percent: Mapped[float | None] = mapped_column()
    passed: Mapped[bool | None] = mapped_column(Boolean)
    pass_percent: Mapped[int] = mapped_column(Integer)
    #: the agency the learner belonged to when a quiz attempt was graded: its answers count there
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))

    user: Mapped[User] = relationship()
    quiz: Mapped[Quiz | None] = relationship()
    course: Mapped[Course] = relationship()
    questions: Mapped[list[AttemptQuestion]] = relationship(
        back_populates="attempt", order_by="AttemptQuestion.position", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status == "in_progress"

    @property
    def is_practice(self) -> bool:
        return self.quiz_id is None


class AttemptQuestion(db.Model):
    """A question drawn for an attempt: the exact version, the shuffled choice order, the answer."""

    __tablename__ = "attempt_question"
    __table_args__ = (
        UniqueConstraint("attempt_id", "position"),
        UniqueConstraint("attempt_id", "question_version_id"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 1)", name="score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_version.id"), index=True)
    #: choice keys in the order shown to this learner
    choice_order: Mapped[list[str]] = mapped_column(JSON)
    #: the selected keys, saved as they are given; None until answered
    answer: Mapped[list[str] | None] = mapped_column(JSON)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: 0..1 once graded
    score: Mapped[float | None] = mapped_column()

    attempt: Mapped[Attempt] = relationship(back_populates="questions")
    version: Mapped[QuestionVersion] = relationship()


class CourseCompletion(db.Model):
    """A completed course: all lessons read, the final test passed, the commitment made.

    A person holds at most one current completion per course (a partial unique index: eight
    commitments posted at once still make one). It is valid until `expires_at` (None: no expiry),
    fixed when it is recorded from the assignments covering the person (`tracking.rules`); a
    certificate states it and nothing changes it later. When the person completes the course again
    (recertification), the previous completion is archived: kept with its dates and agency, never
    deleted or rewritten, and its certificate code then verifies as superseded.
    """

    __tablename__ = "course_completion"
    __table_args__ = (
        Index("uq_course_completion_current", "user_id", "course_id", unique=True,
              sqlite_where=db.text("archived_at IS NULL"),
              postgresql_where=db.text("archived_at IS NULL")),
        # The current completions of a course, read by every dashboard from the index alone.
        Index("ix_course_completion_current_course", "course_id", "user_id", "completed_at",
              sqlite_where=db.text("archived_at IS NULL"),
              postgresql_where=db.text("archived_at IS NULL")),
        # Current completions of a course by date with their agency: the weekly chart, from the index alone.
        Index("ix_course_completion_course_time", "course_id", "completed_at", "agency_id",
              sqlite_where=db.text("archived_at IS NULL"),
              postgresql_where=db.text("archived_at IS NULL")),
        CheckConstraint("expires_at IS NULL OR expires_at > completed_at", name="expires_after_completion"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    #: the agency the learner belonged to when completing, so old reports stay right after moves
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the end of its validity; None for no expiry (tracking.rules.expiry_for)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    commitment_text: Mapped[str] = mapped_column(Text)
    commitment_ip: Mapped[str] = mapped_column(String(64), default="")
    commitment_user_agent: Mapped[str] = mapped_column(String(500), default="")
    #: public code printed on the certificate and encoded in its QR code
    certificate_code: Mapped[str] = mapped_column(String(20), unique=True)
    final_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id"))
    #: set when a newer completion of the same course replaces this one; it is kept
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()
    agency: Mapped[Agency] = relationship()

    def is_valid_at(self, moment: datetime) -> bool:
        return self.archived_at is None and (self.expires_at is None or moment < self.expires_at)


# -- tracking: last activity per learner and course (migration 0005) ----------------------------

class CourseActivity(db.Model):
    """The last time a learner did anything in a course (opened a lesson, started an attempt).

    Kept current by the learning services, so a dashboard reads one row per person instead of
    aggregating every lesson-progress and attempt row of a province on each request.
    """

    __tablename__ = "course_activity"
    __table_args__ = (
        # One course's activity, read by every dashboard from the index alone.
        Index("ix_course_activity_course", "course_id", "user_id", "last_activity_at"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), primary_key=True)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- tracking: answers and wrong answers per subtree and question (migration 0008) ------------------

class AnswerTally(db.Model):
    """How often a question version was answered, and answered wrong, in graded quiz attempts (not
    practice) of a course, in an agency's whole subtree (see `tracking.tallies`).

    Kept when an attempt is graded and when a subtree moves, so "what staff get wrong" reads one row
    per question instead of every answer of a province on each request.
    """

    __tablename__ = "answer_tally"
    __table_args__ = (
        CheckConstraint("answered >= 0", name="answered_not_negative"),
        CheckConstraint("wrong >= 0 AND wrong <= answered", name="wrong_within_answered"),
    )

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), primary_key=True)
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_version.id"), primary_key=True,
                                                     index=True)
    answered: Mapped[int] = mapped_column(Integer)
    #: answers that scored less than full marks
    wrong: Mapped[int] = mapped_column(Integer)


class OptionTally(db.Model):
    """How often each choice of a question version was picked in graded quiz answers of a course, in
    an agency's whole subtree (migration 0019, `tracking.tallies`): the share of staff who chose each
    wrong option, beside the AnswerTally of the same (agency, course, question version)."""

    __tablename__ = "option_tally"
    __table_args__ = (CheckConstraint("chosen >= 0", name="chosen_not_negative"),)

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), primary_key=True)
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_version.id"), primary_key=True,
                                                     index=True)
    #: a choice's key as stored in the answer (opaque; the manager's page shows the choice's text)
    choice_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    chosen: Mapped[int] = mapped_column(Integer)


class CompletionTally(db.Model):
    """Current completions of a course per week, in an agency's whole subtree (migration 0019,
    `tracking.tallies`): the dashboard's weekly chart reads twelve rows, however large the subtree.

    A completion counts in the week (Monday, Vietnam time) it was made, for the agency it was made in
    and every agency above it; it leaves the tally when it is archived by a renewal.
    """

    __tablename__ = "completion_tally"
    __table_args__ = (CheckConstraint("completed >= 0", name="completed_not_negative"),)

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), primary_key=True)
    #: the Monday (Vietnam time) of the week
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    completed: Mapped[int] = mapped_column(Integer)


# -- tracking: assignments (migration 0003) -------------------------------------------------------

class Assignment(db.Model):
    """A course assigned to an agency subtree: start, due date, validity and recertification.

    Who is assigned is not stored per person: everyone active in the subtree at the moment of a
    query is, so staff who join or move in later are assigned automatically. An assignment asks
    whether each person holds a completion still valid at its due date; it never invalidates one.
    With `recertify_days`, it also asks that the completion be renewed: that many days before it
    expires the person is due again, by its expiry. The full rule, for several assignments covering
    one person, is `tracking.rules` (and docs/tracking.md). A cancelled assignment is kept
    (`is_active` false, `cancelled_at` set) with its audit records.
    """

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint("due_at > starts_at", name="due_after_start"),
        CheckConstraint("validity_months IS NULL OR validity_months > 0", name="validity_positive"),
        CheckConstraint("recertify_days IS NULL OR (recertify_days > 0 AND validity_months IS NOT NULL)",
                        name="recertify_needs_validity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True,
                                            active_history=True)  # the agency it leaves is recounted (tracking.progress)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: how long a completion made under it stays valid; None for no expiry
    validity_months: Mapped[int | None] = mapped_column(Integer)
    #: None for a one-off assignment; else the days before a completion expires when the person is
    #: due again (recertification)
    recertify_days: Mapped[int | None] = mapped_column(Integer)
    #: false once cancelled by a manager, or closed by a merge into an agency that has the course
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course] = relationship()
    agency: Mapped[Agency] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])


class AssignmentCoverage(db.Model):
    """One agency an active assignment covers: the agency it was given to or one below it.

    A derived table, kept exact by `tracking.coverage` (assignments given, moved, cancelled;
    agencies created, moved, merged, deleted): the recount reads the assignments governing a
    course's agencies from it by index instead of finding each assignment's subtree by its path
    (`rules.person_statuses`). Every active assignment is here, started or not: its start is
    compared with the clock when read. Migration 0021; docs/tracking.md.
    """

    __tablename__ = "assignment_coverage"
    __table_args__ = (Index("ix_assignment_coverage_course_agency", "course_id", "agency_id"),)

    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    #: the assignment's course, copied so that one course's rows are one index range
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))


# -- tracking: progress per agency and course (migration 0009) ---------------------------------------

class AgencyProgress(db.Model):
    """For one agency and one course assigned to it: how many of its active staff (placed directly
    in it, not below) are in each status. Kept current by `tracking.progress` whenever staff,
    completions, activity, assignments or the tree change, so a dashboard reads one row per agency
    instead of every person's status.

    Statuses also change with the clock alone. The first due date to pass among the people it
    counts who are not done (`next_due_at`) is applied on reading: `due_in_progress` and
    `due_not_started` of them turn overdue then. Any other such moment (a later due date, a
    recertification window opening) bounds the row: it holds between `stable_from` and
    `stable_until` (None: no such moment) and is not used for a moment outside them.
    """

    __tablename__ = "agency_progress"
    __table_args__ = (
        CheckConstraint("completed >= 0 AND in_progress >= 0 AND not_started >= 0 AND overdue >= 0",
                        name="counts_not_negative"),
        CheckConstraint("due_in_progress BETWEEN 0 AND in_progress AND due_not_started BETWEEN 0 AND not_started",
                        name="due_within_counts"),
    )

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), primary_key=True, index=True)
    completed: Mapped[int] = mapped_column(Integer)
    in_progress: Mapped[int] = mapped_column(Integer)
    not_started: Mapped[int] = mapped_column(Integer)
    overdue: Mapped[int] = mapped_column(Integer)
    #: the earliest due date of the people counted in progress or not started
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: of them, those due by `next_due_at`
    due_in_progress: Mapped[int] = mapped_column(Integer, default=0)
    due_not_started: Mapped[int] = mapped_column(Integer, default=0)
    #: when it was counted: the assignments counted are those that had started then
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the latest moment at or before `counted_at` when a counted person's status changed by the clock
    stable_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the next moment after `counted_at` when one will
    stable_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PersonCourseStatus(db.Model):
    """Where one active person stands with one course assigned to them, as the last recount found
    it (`tracking.progress`, the same recount and rule as `AgencyProgress`): the people list reads a
    page of these rows instead of working out every person's status in the subtree.

    The clock changes a status without a recount in two ways only, both derived on reading from the
    stored dates (`tracking.rules.stored_status`): `due_at` passing (overdue), and `window_at`, the
    first recertification window to open, after which the person is due again by `expires_at`.
    """

    __tablename__ = "person_course_status"
    __table_args__ = (
        # The people list: a subtree (path prefix) of one course in name order, filtered by status.
        Index("ix_person_course_status_list", "course_id", "path", "search_name", "user_id"),
        Index("ix_person_course_status_name", "course_id", "search_name", "user_id"),
        Index("ix_person_course_status_due", "course_id", "due_at"),
        Index("ix_person_course_status_agency", "agency_id", "course_id"),
        # Whether the rows were all counted by the moment a reader asks about.
        Index("ix_person_course_status_counted", "course_id", "counted_at"),
        Index("ix_person_course_status_window_opened", "course_id", "window_opened_at"),
        CheckConstraint("lessons_done >= 0 AND lessons_renewed >= 0 AND lessons_renewed <= lessons_done",
                        name="lessons_within"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    #: the agency's path when counted (a moved subtree is recounted)
    path: Mapped[str] = mapped_column(String(255))
    #: the person's `search_name` when counted (a rename is recounted)
    search_name: Mapped[str] = mapped_column(String(255), default="")
    employee_code: Mapped[str | None] = mapped_column(String(50))
    #: the earliest due date among the unsatisfied assignments when counted; None: all satisfied
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the first recertification window to open after the count: from then on due by `expires_at`
    window_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the last recertification window opened by the count: a reader asking about an earlier
    #: moment cannot use the row (`tracking.progress.people_stored`)
    window_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the last activity when counted: enough for the status (the first step after a completion is
    #: recounted); the people list shows the live one (`CourseActivity`)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: published lessons done ever, and since the current completion (what counts towards a renewal)
    lessons_done: Mapped[int] = mapped_column(Integer, default=0)
    lessons_renewed: Mapped[int] = mapped_column(Integer, default=0)
    #: the best graded score of the final test, in percent; None before any
    best_score: Mapped[float | None] = mapped_column()
    #: all lessons and the final test done, the commitment not signed
    commitment_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProgressCycle(db.Model):
    """The start with which an assignment's subtree was last counted into `AgencyProgress`.

    An assignment that has started and is not recorded here with its start is not counted yet: the
    dashboards then count person by person (`tracking.progress.is_counted`). Kept apart from the
    assignment row so that a recount never waits on a transaction changing it.
    """

    __tablename__ = "progress_cycle"

    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- reminders (migration 0004) -------------------------------------------------------------------

class ReminderRun(db.Model):
    """One run of `flask reminders send` or of "Gửi ngay": when, by whom, what it sent, what went wrong."""

    __tablename__ = "reminder_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    learner_emails: Mapped[int] = mapped_column(Integer, default=0)
    digests: Mapped[int] = mapped_column(Integer, default=0)
    #: reminders already sent earlier the same day, so not sent again
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    #: the administrator who pressed "Gửi ngay"; None for the daily command (cron)
    triggered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    messages: Mapped[list[ReminderMessage]] = relationship(back_populates="run", order_by="ReminderMessage.id")
    triggered_by: Mapped[User | None] = relationship()


class ReminderMessage(db.Model):
    """A reminder sent to one person about one course on one day; never twice the same day."""

    __tablename__ = "reminder_message"
    __table_args__ = (
        UniqueConstraint("kind", "user_id", "course_id", "sent_on"),
        CheckConstraint(_in_list("kind", ("learner", "digest")), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reminder_run.id"), index=True)
    #: "learner": due soon or overdue; "digest": a manager's summary of their subtree
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    #: the day in Vietnam's time zone, which the once-a-day rule is about
    sent_on: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    email: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))

    run: Mapped[ReminderRun] = relationship(back_populates="messages")
    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()


# -- authoring: drafts and lesson history (migration 0007) ----------------------------------------

DRAFT_KINDS = ("lesson", "question")


class ContentDraft(db.Model):
    """A trainer's unpublished edit of a lesson or a question: learners never see it.

    `data` is the item as its file would hold it (a lesson's front matter and body, a bank entry),
    already checked by the rules of `flask content check`; publishing checks it again.
    """

    __tablename__ = "content_draft"
    __table_args__ = (
        UniqueConstraint("kind", "slug"),
        CheckConstraint(_in_list("kind", DRAFT_KINDS), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: the lesson's or question's slug; a slug not yet in the database is a new item
    slug: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    updated_by: Mapped[User | None] = relationship()


class LessonRevision(db.Model):
    """A published state of a lesson, kept when it changes (questions have QuestionVersion)."""

    __tablename__ = "lesson_revision"
    __table_args__ = (
        UniqueConstraint("lesson_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    #: the lesson's file as it was: front matter and Markdown body
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    #: the trainer who published it; None when it came from the files
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lesson: Mapped[Lesson] = relationship()
    created_by: Mapped[User | None] = relationship()


# -- spaced refreshers (migration 0016) -------------------------------------------------------------

REFRESHER_MONTHS = (1, 3)


class Refresher(db.Model):
    """A three-question refresher offered one and three months after a completion. Taking it is a
    practice attempt: never graded for completion; the dashboards count who took it and how many
    answers were right."""

    __tablename__ = "refresher"
    __table_args__ = (
        UniqueConstraint("completion_id", "months"),
        CheckConstraint("months IN (1, 3)", name="months_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    completion_id: Mapped[int] = mapped_column(ForeignKey("course_completion.id", ondelete="CASCADE"),
                                               index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    #: the completion's agency: a refresher counts in the dashboard where the completion counts
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    #: 1 or 3: months after the completion
    months: Mapped[int] = mapped_column(Integer)
    #: the day (Vietnam's time) from which it is offered
    due_on: Mapped[date] = mapped_column(Date)
    #: when the invitation went out with `flask reminders send`
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the practice attempt that took it; None until started
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id"), unique=True)

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()
    completion: Mapped[CourseCompletion] = relationship()
    attempt: Mapped[Attempt | None] = relationship()


# -- accounts: invitations and password-reset links (migration 0012) --------------------------------

ACCOUNT_LINK_PURPOSES = ("invitation", "reset")


class AccountLink(db.Model):
    """A one-time link sent by e-mail to set a password (an invitation) or to reset it.

    The link carries this row's id signed with the secret key (app/auth/links.py); the row makes it
    single-use (`used_at`, set by one conditional UPDATE) and bounds its life (`expires_at`).
    """

    __tablename__ = "account_link"
    __table_args__ = (
        CheckConstraint(_in_list("purpose", ACCOUNT_LINK_PURPOSES), name="purpose_known"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: None while waiting to be mailed (invitations are queued, then sent in bulk)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: set once, when the link is used or replaced by a newer one; a used link never works again
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: who asked for it: an administrator for an invitation, None for a reset asked by the person
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
