"""Where one learner stands in their courses: the learner's own pages (`learn`) and the manager's
person page (`tracking.views`) both read it from here, next to the rule it applies
(`tracking.rules`), so that learning depends on tracking and never the other way round."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Attempt, Course, CourseActivity, CourseCompletion, Lesson, LessonProgress, Quiz, User, utcnow
from . import rules

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def completed_since(session: Session, user: User, course_id: int) -> datetime:
    """When the learner's current completion of the course was made (the epoch without one): what
    they do afterwards counts towards the next one."""
    return session.scalar(select(CourseCompletion.completed_at).where(
        CourseCompletion.user_id == user.id, CourseCompletion.course_id == course_id,
        CourseCompletion.archived_at.is_(None))) or EPOCH




@dataclass
class CourseState:
    """Where one learner stands in one course, computed in a fixed number of queries."""

    course: Course
    lessons: list[Lesson]
    done_lesson_ids: set[int]
    final_quiz: Quiz | None
    final_passed: bool
    final_attempts_used: int
    open_attempt_ids: dict[int, int] = field(default_factory=dict)
    #: the completion the learner holds and that still stands (none is due again)
    completion: CourseCompletion | None = None
    started: bool = False
    #: the earliest due date among the unsatisfied assignments covering the learner (tracking.rules);
    #: None when the course is not assigned or every assignment is satisfied
    due_at: datetime | None = None
    now: datetime | None = None
    #: the completion being renewed: expired, about to, or not valid long enough for an assignment
    renewing: CourseCompletion | None = None
    #: whether an assignment covers the learner
    assigned: bool = False
    #: by the rule; None when not assigned
    rule_status: str | None = None
    #: when the next recertification window opens for a completion that stands
    recertify_at: datetime | None = None
    #: open practice attempts (id, started at), newest first
    open_practice: list[tuple[int, datetime]] = field(default_factory=list)

    @property
    def lessons_done(self) -> int:
        return sum(1 for lesson in self.lessons if lesson.id in self.done_lesson_ids)

    @property
    def steps_total(self) -> int:
        return len(self.lessons) + (1 if self.final_quiz else 0) + 1  # + the commitment

    @property
    def steps_done(self) -> int:
        return self.lessons_done + (1 if self.final_passed else 0) + (1 if self.completion else 0)

    @property
    def progress_percent(self) -> int:
        return round(self.steps_done * 100 / self.steps_total) if self.steps_total else 0

    @property
    def all_lessons_done(self) -> bool:
        return self.lessons_done == len(self.lessons)

    @property
    def can_commit(self) -> bool:
        return self.completion is None and self.all_lessons_done and (self.final_passed or not self.final_quiz)

    @property
    def status(self) -> str:
        if self.rule_status is not None:
            return self.rule_status
        return "completed" if self.completion else "in_progress" if self.started else "not_started"

    @property
    def days_left(self) -> int | None:
        if self.due_at is None or self.now is None:
            return None
        return (self.due_at - self.now).days

    @property
    def next_lesson(self) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.id not in self.done_lesson_ids), None)




def course_states(session: Session, user: User, courses: list[Course],
                  now: datetime | None = None) -> dict[int, CourseState]:
    """The state of several courses for one learner, in seven queries whatever their size.

    The status and due date come from `tracking.rules`, as the manager sees them. While a completion
    stands, the course is shown done; when it is due again (recertification), only what was done
    since that completion counts towards the next one.
    """
    now = now or utcnow()
    course_ids = [course.id for course in courses]
    if not course_ids:
        return {}
    terms = rules.terms_for_person(session, user, course_ids, now)
    lessons = session.scalars(
        select(Lesson).where(Lesson.course_id.in_(course_ids), Lesson.status == "published")
        .order_by(Lesson.course_id, Lesson.position)).all()
    progress = session.execute(
        select(Lesson.course_id, LessonProgress.lesson_id, LessonProgress.completed_at,
               LessonProgress.last_seen_at)
        .join(Lesson).where(LessonProgress.user_id == user.id, Lesson.course_id.in_(course_ids))).all()
    finals = session.scalars(select(Quiz).where(
        Quiz.course_id.in_(course_ids), Quiz.counts_for_completion, Quiz.status == "published")).all()
    attempts = session.execute(
        select(Attempt.id, Attempt.course_id, Attempt.quiz_id, Attempt.status, Attempt.passed,
               Attempt.started_at)
        .where(Attempt.user_id == user.id, Attempt.course_id.in_(course_ids))).all()
    completions = session.scalars(select(CourseCompletion).where(
        CourseCompletion.user_id == user.id, CourseCompletion.course_id.in_(course_ids),
        CourseCompletion.archived_at.is_(None))).all()
    activity = dict(session.execute(select(CourseActivity.course_id, CourseActivity.last_activity_at).where(
        CourseActivity.user_id == user.id, CourseActivity.course_id.in_(course_ids))).all()) if terms else {}

    states = {}
    for course in courses:
        held = next((c for c in completions if c.course_id == course.id), None)
        holding = rules.Holding(held.completed_at, held.expires_at) if held else None
        course_terms = terms.get(course.id, [])
        standing = rules.standing(course_terms, holding, activity.get(course.id), now) if course_terms else None
        if standing is not None:
            stands = held is not None and standing.status == "completed"
        else:  # not assigned: a completion stands until it expires
            stands = held is not None and (held.expires_at is None or now < held.expires_at)
        since = held.completed_at if held is not None and not stands else None

        def current(moment, since=since):
            return moment is not None and (since is None or moment > since)

        course_lessons = [lesson for lesson in lessons if lesson.course_id == course.id]
        course_progress = [row for row in progress if row.course_id == course.id]
        final = next((quiz for quiz in finals if quiz.course_id == course.id), None)
        course_attempts = [row for row in attempts if row.course_id == course.id and current(row.started_at)]
        graded = [row for row in course_attempts if row.quiz_id is not None]
        final_rows = [row for row in graded if final and row.quiz_id == final.id]
        states[course.id] = CourseState(
            course=course, lessons=course_lessons,
            done_lesson_ids={row.lesson_id for row in course_progress if current(row.completed_at)},
            final_quiz=final,
            final_passed=any(row.passed for row in final_rows),
            final_attempts_used=len(final_rows),
            open_attempt_ids={row.quiz_id: row.id for row in graded if row.status == "in_progress"},
            completion=held if stands else None,
            started=any(current(row.last_seen_at) for row in course_progress) or bool(graded),
            due_at=standing.due_at if standing else None, now=now,
            renewing=held if not stands else None, assigned=standing is not None,
            rule_status=standing.status if standing else None,
            recertify_at=standing.recertify_at if standing else None,
            open_practice=sorted(((row.id, row.started_at) for row in course_attempts
                                  if row.quiz_id is None and row.status == "in_progress"),
                                 key=lambda item: item[1], reverse=True),
        )
    return states


def course_state(session: Session, user: User, course: Course, now: datetime | None = None) -> CourseState:
    return course_states(session, user, [course], now)[course.id]


