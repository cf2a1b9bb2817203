"""Spaced refreshers: scheduled from completions, invited by `flask reminders send`, taken as a
three-question practice attempt (never graded for completion), summarised for managers."""
from __future__ import annotations

import calendar
import random
import smtplib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, insert, select
from sqlalchemy.orm import Session

from ..learn.services import LearnError, _add_questions, require_no_open_final, wrong_topic_ids
from ..models import (
    REFRESHER_MONTHS,
    Agency,
    Attempt,
    AttemptQuestion,
    Course,
    CourseCompletion,
    Question,
    QuestionVersion,
    Refresher,
    User,
    question_topic,
    utcnow,
)
from ..reminders.services import SUBJECT_PREFIX, Settings, local_day

#: questions in one refresher
REFRESHER_SIZE = 3
#: a refresher is offered this long after its due day; later it is no longer invited
INVITE_WITHIN_DAYS = 30


class RefresherError(Exception):
    """A refresher that cannot be started; the message is for the learner."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has fewer days."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule_due(session: Session, now: datetime) -> int:
    """Create the refreshers that have come due for current completions; returns how many."""
    today = local_day(now)
    created = 0
    for months in REFRESHER_MONTHS:
        # Every completion old enough, without this refresher yet: one query per round.
        earliest = now - timedelta(days=28 * months)
        rows = session.execute(
            select(CourseCompletion.id, CourseCompletion.user_id, CourseCompletion.course_id,
                   CourseCompletion.agency_id, CourseCompletion.completed_at)
            .outerjoin(Refresher, and_(Refresher.completion_id == CourseCompletion.id,
                                       Refresher.months == months))
            .where(CourseCompletion.archived_at.is_(None), CourseCompletion.completed_at <= earliest,
                   Refresher.id.is_(None))).all()
        new = [{"completion_id": cid, "user_id": uid, "course_id": course_id, "agency_id": agency_id,
                "months": months, "due_on": add_months(local_day(completed_at), months)}
               for cid, uid, course_id, agency_id, completed_at in rows]
        new = [row for row in new if row["due_on"] <= today]
        if new:
            session.execute(insert(Refresher), new)
            created += len(new)
    return created


@dataclass
class Invitation:
    refresher_id: int
    email: str
    subject: str
    body: str


def plan_invitations(session: Session, settings: Settings, now: datetime) -> list[Invitation]:
    """Refreshers due and not invited yet, of people still active, with their e-mail."""
    today = local_day(now)
    rows = session.execute(
        select(Refresher.id, Refresher.months, User.full_name, User.email, Refresher.course_id)
        .join(User, User.id == Refresher.user_id)
        .where(Refresher.invited_at.is_(None), Refresher.attempt_id.is_(None),
               Refresher.due_on <= today, Refresher.due_on > today - timedelta(days=INVITE_WITHIN_DAYS),
               User.is_active, User.email.is_not(None), User.email != "")
        .order_by(Refresher.id)).all()
    titles = dict(session.execute(select(Course.id, Course.title)).all())
    invitations = []
    for refresher_id, months, full_name, email, course_id in rows:
        title = titles[course_id]
        subject = f"{SUBJECT_PREFIX} Ôn nhanh 3 câu: «{title}»"
        body = (f"Kính gửi {full_name},\n\n"
                f"Đã {months} tháng kể từ khi anh/chị hoàn thành khóa học «{title}». "
                "Mời anh/chị dành hai phút trả lời 3 câu hỏi ôn tập, chọn từ những chủ đề anh/chị "
                "từng trả lời chưa đúng:\n"
                f"{settings.base_url}/refreshers/{refresher_id}\n\n"
                "Phần ôn tập không chấm điểm và không ảnh hưởng đến giấy chứng nhận.\n"
                "Thư được gửi tự động, xin đừng trả lời.\n")
        invitations.append(Invitation(refresher_id, email, subject, body))
    return invitations


def send_invitations(session: Session, mailer, invitations: list[Invitation], now: datetime) -> tuple[int, int]:
    """Claim each invitation (invited_at) before sending it, as the reminders do; a failed send gives
    the claim back so the next run retries. Returns (sent, failed)."""
    sent = failed = handled = 0
    if not invitations:
        return sent, failed
    table = Refresher.__table__
    try:
        with mailer:
            for invitation in invitations:
                handled += 1
                claimed = session.execute(table.update().where(
                    table.c.id == invitation.refresher_id, table.c.invited_at.is_(None)).values(invited_at=now)).rowcount
                session.commit()
                if not claimed:
                    continue  # another run took it
                try:
                    mailer.send(invitation.email, invitation.subject, invitation.body)
                    sent += 1
                except (smtplib.SMTPException, OSError) as error:
                    session.execute(table.update().where(table.c.id == invitation.refresher_id)
                                    .values(invited_at=None))
                    session.commit()
                    failed += 1
                    if isinstance(error, (smtplib.SMTPServerDisconnected, OSError)):
                        raise
    except (smtplib.SMTPException, OSError):  # the server cannot be reached, or dropped us
        failed += len(invitations) - handled
    return sent, failed


def start_refresher(session: Session, user: User, refresher: Refresher, *, now: datetime | None = None,
                    rng: random.Random | None = None) -> Attempt:
    """The refresher's practice attempt: three questions from the topics the learner got wrong,
    else at random; started once, resumed after."""
    now = now or utcnow()
    rng = rng or random.SystemRandom()
    if refresher.attempt is not None:
        return refresher.attempt
    if refresher.due_on > local_day(now):
        raise RefresherError("Phần ôn tập này chưa đến ngày mở.")
    # A refresher's review shows answers from the same bank as the final test: like practice, it
    # cannot start while the learner's final is open.
    try:
        require_no_open_final(session, user, now)
    except LearnError as error:
        raise RefresherError("Anh/chị đang làm bài kiểm tra cuối khóa; hãy nộp bài đó trước khi ôn tập.") from error
    latest = (select(Question.id, QuestionVersion.id, QuestionVersion.content_hash)
              .join(QuestionVersion, (QuestionVersion.question_id == Question.id)
                    & (QuestionVersion.version == Question.latest_version))
              .where(Question.status == "published"))
    topics = wrong_topic_ids(session, user, refresher.course)
    chosen = []
    if topics:
        weak = sorted(session.execute(latest.where(Question.id.in_(
            select(question_topic.c.question_id).where(question_topic.c.topic_id.in_(topics))))).all())
        chosen = rng.sample(weak, min(REFRESHER_SIZE, len(weak)))
    if len(chosen) < REFRESHER_SIZE:
        taken = {row[0] for row in chosen}
        rest = sorted(row for row in session.execute(latest).all() if row[0] not in taken)
        chosen += rng.sample(rest, min(REFRESHER_SIZE - len(chosen), len(rest)))
    if not chosen:
        raise RefresherError("Chưa có câu hỏi để ôn tập.")
    number = (session.scalar(select(func.count(Attempt.id)).where(
        Attempt.user_id == user.id, Attempt.course_id == refresher.course_id, Attempt.quiz_id.is_(None))) or 0) + 1
    attempt = Attempt(user_id=user.id, course_id=refresher.course_id, quiz_id=None, number=number,
                      started_at=now, pass_percent=100)
    session.add(attempt)
    session.flush()
    refresher.attempt_id = attempt.id
    _add_questions(session, attempt, {version_id: digest for _, version_id, digest in chosen}, rng)
    return attempt


@dataclass
class RefresherSummary:
    """Refreshers of a subtree and course: offered, taken, and the share of answers right."""
    offered: int
    taken: int
    answers: int
    right: int

    @property
    def participation(self) -> float | None:
        """Per cent of the invited refreshers that were taken."""
        return 100 * self.taken / self.offered if self.offered else None

    @property
    def share_right(self) -> float | None:
        """Per cent of the refreshers' answers that were right."""
        return 100 * self.right / self.answers if self.answers else None


def summary(session: Session, agency: Agency, course_id: int) -> RefresherSummary:
    """One aggregate over the subtree of `agency`: two statements whatever its size."""
    in_subtree = Agency.path.startswith(agency.path, autoescape=True)
    offered, taken = session.execute(
        select(func.count(Refresher.id),
               func.count(case((Attempt.status == "submitted", Refresher.id))))
        .join(Agency, Agency.id == Refresher.agency_id)
        .outerjoin(Attempt, Attempt.id == Refresher.attempt_id)
        .where(Refresher.course_id == course_id, Refresher.invited_at.is_not(None), in_subtree)).one()
    answers, right = session.execute(
        select(func.count(AttemptQuestion.id), func.count(case((AttemptQuestion.score >= 1, 1))))
        .join(Attempt, Attempt.id == AttemptQuestion.attempt_id)
        .join(Refresher, Refresher.attempt_id == Attempt.id)
        .join(Agency, Agency.id == Refresher.agency_id)
        .where(Refresher.course_id == course_id, Attempt.status == "submitted", in_subtree)).one()
    return RefresherSummary(offered, taken, answers, right)
