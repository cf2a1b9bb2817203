"""Completion tracking over an agency subtree: assignments, statuses, figures, wrong answers.

Every figure is computed in SQL over the whole subtree in a fixed number of statements, whatever
the number of agencies or staff. A person's status for a course is derived, not stored, by the rule
of `tracking.rules` (the same for the learner's pages, the dashboards, the summaries, the people
list, the exports and the reminders): completed, overdue, in progress or not started.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import and_, case, func, null, or_, select
from sqlalchemy.orm import Session, selectinload

from ..audit import record
from ..content.text import strip_diacritics
from ..formatting import VIETNAM, format_datetime_local
from ..pagination import Pagination, paginate_list
from .progress import child_of, pending_recounts, people_stored, person_facts, status_counts
from .tallies import week_of
from .rules import (STATUSES, Terms, add_months, person_statuses, scope_terms, stored_due_sql,  # noqa: F401
                    stored_status_sql, terms_of)
from ..models import (
    Agency,
    AnswerTally,
    Assignment,
    AuditLog,
    CompletionTally,
    Course,
    CourseActivity,
    CourseCompletion,
    Lesson,
    OptionTally,
    PersonCourseStatus,
    QuestionVersion,
    Topic,
    User,
    question_topic,
    utcnow,
)

STATUS_LABELS = {"not_started": "Chưa bắt đầu", "in_progress": "Đang học", "completed": "Hoàn thành",
                 "overdue": "Quá hạn"}
#: the most names a preview lists in each group; the rest are counted
PREVIEW_NAMES = 20


class TrackingError(ValueError):
    """A rule about assignments was broken; the message is for the user, in Vietnamese."""


# -- assignments -------------------------------------------------------------------------------

def _check_terms(starts_at: datetime, due_at: datetime, validity_months: int | None,
                 recertify_days: int | None) -> None:
    if due_at <= starts_at:
        raise TrackingError("Hạn hoàn thành phải sau ngày bắt đầu.")
    if recertify_days is not None and not validity_months:
        raise TrackingError("Muốn học lại định kỳ thì chứng nhận phải có thời hạn hiệu lực.")
    if recertify_days is not None and validity_months and recertify_days >= validity_months * 28:
        raise TrackingError("Số ngày mở đợt học lại phải ngắn hơn thời hạn hiệu lực.")


def _described(assignment: Assignment) -> dict:
    """What the audit log keeps of an assignment, before and after a change."""
    return {"course": assignment.course.slug, "agency": assignment.agency.code,
            "starts_at": assignment.starts_at.isoformat(), "due_at": assignment.due_at.isoformat(),
            "validity_months": assignment.validity_months, "recertify_days": assignment.recertify_days,
            "is_active": assignment.is_active}


def create_assignment(session: Session, *, course: Course, agency: Agency, starts_at: datetime,
                      due_at: datetime, validity_months: int | None = None, recertify_days: int | None = None,
                      actor: User | None = None) -> Assignment:
    """Give a course to an agency subtree (audited). It never invalidates a completion."""
    _check_terms(starts_at, due_at, validity_months, recertify_days)
    assignment = Assignment(course=course, agency=agency, starts_at=starts_at, due_at=due_at,
                            validity_months=validity_months, recertify_days=recertify_days,
                            created_by_id=actor.id if actor else None)
    session.add(assignment)
    session.flush()
    record(session, actor, "assignment.created", assignment, after=_described(assignment),
           summary=f"Giao khóa «{course.title}» cho {agency.name}")
    session.flush()
    return assignment


def update_assignment(session: Session, assignment: Assignment, *, starts_at: datetime, due_at: datetime,
                      validity_months: int | None, recertify_days: int | None,
                      actor: User | None = None) -> Assignment:
    """Change an assignment's dates, validity or recertification (audited with before and after)."""
    if not assignment.is_active:
        raise TrackingError("Lượt giao khóa học này đã hủy; không sửa được.")
    _check_terms(starts_at, due_at, validity_months, recertify_days)
    before = _described(assignment)
    assignment.starts_at, assignment.due_at = starts_at, due_at
    assignment.validity_months, assignment.recertify_days = validity_months, recertify_days
    assignment.updated_at = utcnow()
    session.flush()
    record(session, actor, "assignment.updated", assignment, before=before, after=_described(assignment),
           summary=f"Sửa lượt giao khóa «{assignment.course.title}» cho {assignment.agency.name}")
    session.flush()
    return assignment


def cancel_assignment(session: Session, assignment: Assignment, *, actor: User | None = None) -> Assignment:
    """Cancel an assignment: it is kept, inactive, with who cancelled it and when (audited)."""
    if not assignment.is_active:
        raise TrackingError("Lượt giao khóa học này đã hủy trước đó.")
    before = _described(assignment)
    assignment.is_active = False
    assignment.cancelled_at = utcnow()
    assignment.cancelled_by_id = actor.id if actor else None
    session.flush()
    record(session, actor, "assignment.cancelled", assignment, before=before, after=_described(assignment),
           summary=f"Hủy lượt giao khóa «{assignment.course.title}» cho {assignment.agency.name}")
    session.flush()
    return assignment


def visible_assignments(session: Session, agency: Agency) -> list[Assignment]:
    """The assignments given to the subtree or above it (those covering it), the cancelled ones last."""
    return list(session.scalars(
        select(Assignment).join(Agency, Agency.id == Assignment.agency_id)
        .where(Agency.path.startswith(agency.path, autoescape=True) | Assignment.agency_id.in_(agency.ancestor_ids()))
        .options(selectinload(Assignment.course), selectinload(Assignment.agency))
        .order_by(Assignment.is_active.desc(), Assignment.due_at, Assignment.id)))


def assignment_history(session: Session, assignment: Assignment) -> list[AuditLog]:
    """Who gave, changed or cancelled the assignment, when, and what it was before and after."""
    return list(session.scalars(
        select(AuditLog).where(AuditLog.object_type == "assignment", AuditLog.object_id == str(assignment.id))
        .options(selectinload(AuditLog.actor)).order_by(AuditLog.created_at, AuditLog.id)))


@dataclass
class Preview:
    """What a change of assignments does to the people of a subtree, before it is saved."""

    #: when it is worked out: now, or the start of an assignment that starts later
    moment: datetime
    #: people under the assignments after the change
    covered: int = 0
    #: compliant before and after
    stay_compliant: int = 0
    #: compliant before (or not assigned), due after
    become_due: int = 0
    #: not overdue before (or not assigned), overdue after
    become_overdue: int = 0
    #: no longer assigned the course at all
    released: int = 0
    #: due before, compliant after (a due date moved later, an assignment cancelled)
    become_compliant: int = 0
    #: a few names of each group (group → [(full name, agency name)])
    names: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def changes_nobody(self) -> bool:
        return not (self.become_due or self.become_overdue or self.released or self.become_compliant)


def preview_change(session: Session, course: Course, agency: Agency, *, replacing: int | None = None,
                   new: Terms | None = None, now: datetime | None = None) -> Preview:
    """Every person's status in `agency`'s subtree (the one the assignment is given to) under the
    assignments as they are and as they would be (assignment `replacing` removed, `new` added),
    compared in SQL: counts, and a few names of each group.

    Worked out at the moment the change takes effect: now, or the new terms' start if later.
    """
    now = now or utcnow()
    moment = max(now, new.starts_at) if new is not None else now
    current = scope_terms(session, course, agency, moment)
    changed = [t for t in current if t.assignment_id != replacing] + ([new] if new is not None else [])
    before = person_statuses(session, course, agency, moment, terms=current, name="before")
    after = person_statuses(session, course, agency, moment, terms=changed, name="after")
    # A full join, written as outer joins from the people of either side.
    people = select(before.c.user_id).union(select(after.c.user_id)).subquery("either")
    both = (select(people.c.user_id.label("user_id"), before.c.status.label("was"), after.c.status.label("now"))
            .select_from(people)
            .outerjoin(before, before.c.user_id == people.c.user_id)
            .outerjoin(after, after.c.user_id == people.c.user_id)).subquery("both")
    groups = {name: _group(both, name) for name in PREVIEW_GROUPS}
    counts = session.execute(select(func.count(both.c.now),
                                    *[func.count(case((condition, 1))) for condition in groups.values()])).one()
    preview = Preview(moment, *counts)
    listed = [name for name in groups if name != "stay_compliant"]
    rows = session.execute(
        select(*[groups[name].label(name) for name in listed], User.full_name, Agency.name.label("agency_name"))
        .select_from(both).join(User, User.id == both.c.user_id).join(Agency, Agency.id == User.agency_id)
        .where(or_(*[groups[name] for name in listed]))
        .order_by(User.search_name, User.id).limit(PREVIEW_NAMES * len(listed))).all()
    for row in rows:
        for name in listed:
            names = preview.names.setdefault(name, [])
            if getattr(row, name) and len(names) < PREVIEW_NAMES:
                names.append((row.full_name, row.agency_name))
    return preview


PREVIEW_GROUPS = ("stay_compliant", "become_due", "become_overdue", "released", "become_compliant")


def _group(both, name: str):
    """One of the preview's groups, over the joined statuses (`was`, `now`: None when not assigned)."""
    was, now = both.c.was, both.c.now
    return {
        "stay_compliant": and_(was == "completed", now == "completed"),
        "become_due": and_(or_(was.is_(None), was == "completed"), now.is_not(None), now != "completed"),
        "become_overdue": and_(or_(was.is_(None), was != "overdue"), now == "overdue"),
        "released": and_(was.is_not(None), now.is_(None)),
        "become_compliant": and_(was.is_not(None), was != "completed", now == "completed"),
    }[name]


# -- the status of each person --------------------------------------------------------------------

@dataclass
class Figures:
    staff: int = 0
    completed: int = 0
    in_progress: int = 0
    not_started: int = 0
    overdue: int = 0

    @property
    def completion_rate(self) -> float:
        return round(self.completed * 100 / self.staff, 1) if self.staff else 0.0

    def share(self, status: str) -> float:
        return getattr(self, status) * 100 / self.staff if self.staff else 0.0


@dataclass
class AgencyReport:
    agency: Agency
    course: Course
    total: Figures
    #: the children listed (one page of them when the report is paginated), with their figures
    children: list[tuple[Agency, Figures]]
    #: people placed directly in the agency, not in any child
    direct: Figures
    #: the page of children shown (a Pagination over the children matching the search), or None
    #: when every child is listed (the PDF report)
    children_page: Pagination | None = None


#: children per page on the dashboard: a country's 63 provinces on two pages, a district's communes on one
CHILDREN_PER_PAGE = 50


def agency_report(session: Session, course: Course, agency: Agency, now: datetime | None = None, *,
                  page: int | None = None, per_page: int = CHILDREN_PER_PAGE,
                  search: str | None = None) -> AgencyReport:
    """Figures for the agency's subtree and for each child's subtree; with `page`, only that page of
    the children whose name contains every word of `search` (diacritics and case ignored) is listed,
    the totals still covering the whole subtree.

    From the progress summaries (`tracking.progress`); or, while they cannot answer for `now`,
    every person's status. Either way added up per child in SQL, the child read off the path (far
    cheaper than joining every person to every child by path prefix).
    """
    now = now or utcnow()
    rows = status_counts(session, course, agency, now, by_child=True)
    if rows is None:  # the summaries do not follow the cycles governing at `now`: count each person
        people = person_statuses(session, course, agency, now)
        child = child_of(session, agency, people.c.path)
        rows = session.execute(select(child, people.c.status, func.count()).group_by(child, people.c.status)).all()
    counts = Counter({(child_id, status): number for child_id, status, number in rows})
    # Only ids and names of every child (a few thousand short rows at most); full rows for the page.
    # In Vietnamese order whatever the database's collation ("Đồng Xuân" among the D's).
    names = sorted(((strip_diacritics(name), name, child_id) for child_id, name in session.execute(
        select(Agency.id, Agency.name).where(Agency.parent_id == agency.id, Agency.is_active))))
    names = [(child_id, plain) for plain, _, child_id in names]

    def figures_of(keys) -> Figures:
        figures = Figures(**{status: sum(counts[key, status] for key in keys) for status in STATUSES})
        figures.staff = sum(getattr(figures, status) for status in STATUSES)
        return figures

    total = figures_of({key for key, _ in counts})
    in_children = figures_of([child_id for child_id, _ in names])
    direct = Figures(**{name: getattr(total, name) - getattr(in_children, name) for name in ("staff", *STATUSES)})
    children_page = None
    listed_ids = [child_id for child_id, _ in names]
    if page is not None:
        words = strip_diacritics(search or "").split()
        matching = [child_id for child_id, plain in names if all(word in plain for word in words)]
        children_page = paginate_list(matching, page, per_page)
        listed_ids = children_page.items
    loaded = {item.id: item for item in session.scalars(select(Agency).where(Agency.id.in_(listed_ids)))}
    listed = [(loaded[child_id], figures_of([child_id])) for child_id in listed_ids]
    if children_page is not None:
        children_page.items = listed
    return AgencyReport(agency, course, total, listed, direct, children_page)


# -- people ------------------------------------------------------------------------------------

#: the people list's orders (query value → label); each then by name and id
PEOPLE_SORT_LABELS = {"name": "Họ và tên", "due": "Trạng thái, hạn", "progress": "Tiến độ",
                      "score": "Điểm cao nhất", "activity": "Hoạt động gần nhất"}
PEOPLE_SORTS = tuple(PEOPLE_SORT_LABELS)


def people_rows(session: Session, course: Course, root: Agency | None, now: datetime):
    """A subquery: one row per person of the subtree (everyone when `root` is None) assigned the
    course, with their status and due date at `now` and what the people list shows (lessons, best
    score, last activity). The people list, the exports and the reminders all read it.

    Read from the stored standings (`PersonCourseStatus`, kept by the recounts) when they answer for
    `now`, the status derived from their dates (`rules.stored_status_sql`); otherwise (an assignment
    started and not counted yet, or a recount of the subtree waits for its job: `pending_recounts`)
    worked out person by person as the summaries then are. Columns a
    caller does not select cost nothing: both databases drop unused columns of a subquery.
    """
    if people_stored(session, course, now) and not pending_recounts(session, course, root):
        return stored_people(session, course, root, now)
    return computed_people(session, course, root, now)


def stored_people(session: Session, course: Course, root: Agency | None, now: datetime):
    """`people_rows` from the stored standings (for a `now` they answer for: `people_stored`)."""
    row = PersonCourseStatus
    status = stored_status_sql(row, now)
    query = (select(row.user_id, row.agency_id, row.path, row.search_name, row.employee_code,
                    status.label("status"), stored_due_sql(row, now).label("due_at"), row.completed_at,
                    row.expires_at, CourseActivity.last_activity_at,
                    case((status == "completed", row.lessons_done), else_=row.lessons_renewed).label("lessons"),
                    row.best_score, and_(row.commitment_missing, status != "completed").label("commitment_missing"))
             .outerjoin(CourseActivity, and_(CourseActivity.user_id == row.user_id,
                                             CourseActivity.course_id == row.course_id))
             .where(row.course_id == course.id))
    if root is not None:
        query = query.where(row.path.startswith(root.path, autoescape=True))
    return query.subquery("people")


def computed_people(session: Session, course: Course, root: Agency | None, now: datetime):
    """`people_rows` worked out person by person (`rules.person_statuses`), for any `now`."""
    people = person_statuses(session, course, root, now)
    p = people.c
    facts = person_facts(p.user_id, course.id, p.completed_at)
    return select(p.user_id, p.agency_id, p.path, p.search_name, p.employee_code, p.status, p.due_at,
                  p.completed_at, p.expires_at, p.last_activity_at,
                  case((p.status == "completed", facts["lessons_done"]), else_=facts["lessons_renewed"]).label("lessons"),
                  facts["best_score"].label("best_score"),
                  and_(facts["commitment_missing"], p.status != "completed").label("commitment_missing")
                  ).subquery("people")


def lessons_total(session: Session, course: Course) -> int:
    """The published lessons of the course: the people list's progress is counted out of them."""
    return session.scalar(select(func.count()).select_from(Lesson)
                          .where(Lesson.course_id == course.id, Lesson.status == "published"))


def _people_order(people, sort: str, descending: bool) -> list:
    """The ORDER BY of the people list: the chosen column (missing values last), then name and id."""
    column = {"due": people.c.due_at, "progress": people.c.lessons, "score": people.c.best_score,
              "activity": people.c.last_activity_at}.get(sort)
    tie = [people.c.search_name, people.c.user_id]
    if column is None:
        return [column.desc() for column in tie] if descending else tie
    return [column.is_(None), column.desc() if descending else column, *tie]


def people_count(session: Session, course: Course, root: Agency, now: datetime, *, status: str | None = None,
                 within: Agency | None = None, search: str | None = None) -> int | None:
    """How many people the people list's filters match, read from the agency summaries the same
    recounts keep with the stored standings, when they answer for `now` and no name is searched;
    None otherwise (the count then comes with the page, `people_page(counted=False)`).

    Counting the matching rows instead means working out the status of every person of the
    subtree: 600,000 at a country's root, most of a second; the summaries hold a row per agency.
    """
    if search or not people_stored(session, course, now):
        return None
    counts = status_counts(session, course, within or root, now, whole=True)
    if counts is None:
        return None
    return sum(number for _, found, number in counts if status not in STATUSES or found == status)


def people_page(session: Session, course: Course, root: Agency, now: datetime, *, limit: int, offset: int,
                status: str | None = None, within: Agency | None = None, search: str | None = None,
                sort: str = "name", descending: bool = False, counted: bool = False):
    """A page of the subtree's people with their status, filtered and sorted (a select): a page
    read from the stored standings, not a computation over the subtree (`people_rows`).

    Rows: User, Agency, status, due_at, completed_at, last_activity_at, lessons, best_score,
    commitment_missing, total, where `total` counts every person matching, so a page and its count
    come from one statement; with `counted` (the caller has the count: `people_count`) it is None,
    and the page is read in name order straight from its index, stopping at the page's last row.
    The page is cut from narrow rows first; only its people are then read in full.
    """
    people = people_rows(session, course, root, now)
    order = _people_order(people, sort, descending)
    total = null() if counted else func.count().over()
    matching = filter_people(
        select(people, total.label("total")), people, status=status, within=within, search=search)
    cut = matching.order_by(*order).limit(limit).offset(offset).subquery("page")
    return (select(User, Agency, cut.c.status, cut.c.due_at, cut.c.completed_at, cut.c.last_activity_at,
                   cut.c.lessons, cut.c.best_score, cut.c.commitment_missing, cut.c.total)
            .join(cut, cut.c.user_id == User.id)
            .join(Agency, Agency.id == cut.c.agency_id)
            .order_by(*_people_order(cut, sort, descending)))


def people_to_remind(session: Session, course: Course, root: Agency, now: datetime, *,
                     person: User | None = None, status: str | None = None, within: Agency | None = None,
                     search: str | None = None):
    """A subquery: the people of the list's filters (or the one `person`) who have not completed the
    course, for a manager's reminder (`reminders.services.plan_nudge`).

    Columns: user_id, agency_id, path, due_at, status, search_name.
    """
    people = people_rows(session, course, root, now)
    query = filter_people(select(people.c.user_id, people.c.agency_id, people.c.path, people.c.due_at,
                                 people.c.status, people.c.search_name), people,
                          status=status, within=within, search=search).where(people.c.status != "completed")
    if person is not None:
        query = query.where(people.c.user_id == person.id)
    return query.subquery("to_remind")


def filter_people(query, people, *, status: str | None = None, within: Agency | None = None,
                  search: str | None = None):
    """The people list's filters, applied to any select from `person_statuses` or `people_rows`."""
    if status in STATUSES:
        query = query.where(people.c.status == status)
    if within is not None:
        query = query.where(people.c.path.startswith(within.path, autoescape=True))
    if search:
        words = strip_diacritics(search).split()
        for word in words[:6]:
            query = query.where(or_(people.c.search_name.contains(word, autoescape=True),
                                    func.lower(people.c.employee_code) == word))
    return query


def agency_matches(session: Session, root: Agency, text: str, limit: int = 20) -> list[Agency]:
    """Agencies of the subtree whose name or code contains every word of `text` (diacritics and
    case ignored), for the people list's agency search box."""
    words = strip_diacritics(text or "").split()
    if not words:
        return []
    query = select(Agency).where(root.subtree_filter(), Agency.is_active)
    for word in words[:6]:
        query = query.where(or_(Agency.search_name.contains(word, autoescape=True),
                                func.lower(Agency.code).contains(word, autoescape=True)))
    return list(session.scalars(query.order_by(Agency.path).limit(limit)))


# -- what staff get wrong ---------------------------------------------------------------------

@dataclass
class OptionShare:
    """A wrong choice of a question and how often staff picked it."""

    text: str
    chosen: int
    #: per cent of the question's answers that picked it
    share: float


@dataclass
class WrongRow:
    total: int
    wrong: int
    version: QuestionVersion | None = None
    topic: Topic | None = None
    #: the wrong choices picked, most picked first (questions only)
    options: list[OptionShare] = field(default_factory=list)

    @property
    def share(self) -> float:
        return round(self.wrong * 100 / self.total, 1) if self.total else 0.0


@dataclass
class WrongAnswers:
    #: questions answered at least `min_answers` times, worst first
    questions: list[WrongRow]
    topics: list[WrongRow]
    #: questions answered fewer times: too few to rank, listed apart (most answered first)
    few: list[WrongRow]
    min_answers: int


#: answers a question needs before it ranks: one wrong answer out of one is not "100 % wrong"
MIN_ANSWERS = 5


def wrong_answers(session: Session, course: Course, root: Agency, limit: int = 20,
                  min_answers: int = MIN_ANSWERS) -> WrongAnswers:
    """Per question (worst first, at most `limit`, among those answered at least `min_answers` times;
    the others apart) with the share of each wrong choice picked, and per topic, over the graded quiz
    answers given in the subtree: the subtree's tallies of each question version and choice
    (`tracking.tallies`, kept when an attempt is graded); the topics are added up from those rows."""
    tallies = session.execute(
        select(AnswerTally.question_version_id, AnswerTally.answered.label("total"), AnswerTally.wrong)
        .where(AnswerTally.agency_id == root.id, AnswerTally.course_id == course.id)).all()
    if not tallies:
        return WrongAnswers([], [], [], min_answers)
    versions = {v.id: v for v in session.scalars(select(QuestionVersion).where(
        QuestionVersion.id.in_([row.question_version_id for row in tallies])))}
    ranked = [row for row in tallies if row.total >= min_answers]
    worst = sorted(ranked, key=lambda row: (-row.wrong / row.total, -row.total, row.question_version_id))[:limit]
    few = sorted((row for row in tallies if row.total < min_answers),
                 key=lambda row: (-row.total, -row.wrong, row.question_version_id))[:limit]
    listed = {row.question_version_id: WrongRow(row.total, row.wrong, version=versions[row.question_version_id])
              for row in (*worst, *few)}
    for version_id, key, chosen in session.execute(
            select(OptionTally.question_version_id, OptionTally.choice_key, OptionTally.chosen)
            .where(OptionTally.agency_id == root.id, OptionTally.course_id == course.id,
                   OptionTally.question_version_id.in_(list(listed)))):
        row = listed[version_id]
        text = next((choice.get("text", "") for choice in row.version.choices or () if choice.get("key") == key), None)
        if text is not None and key not in (row.version.correct_keys or ()):  # a wrong choice still offered
            row.options.append(OptionShare(text, chosen, round(chosen * 100 / row.total, 1)))
    for row in listed.values():
        row.options.sort(key=lambda option: (-option.chosen, option.text))

    topics_of = {}
    for question_id, topic in session.execute(
            select(question_topic.c.question_id, Topic).join(Topic, Topic.id == question_topic.c.topic_id)
            .where(question_topic.c.question_id.in_({v.question_id for v in versions.values()}))):
        topics_of.setdefault(question_id, []).append(topic)
    by_topic: dict[int, WrongRow] = {}
    for row in tallies:
        for topic in topics_of.get(versions[row.question_version_id].question_id, []):
            tally = by_topic.setdefault(topic.id, WrongRow(0, 0, topic=topic))
            tally.total += row.total
            tally.wrong += row.wrong
    topics = sorted(by_topic.values(), key=lambda row: (-row.wrong / row.total, row.topic.slug))
    return WrongAnswers([listed[row.question_version_id] for row in worst], topics,
                        [listed[row.question_version_id] for row in few], min_answers)


def wrong_by_question(session: Session, course: Course, root: Agency, limit: int = 20,
                      min_answers: int = 1) -> list[WrongRow]:
    """Every question answered at least `min_answers` times, worst first."""
    return wrong_answers(session, course, root, limit, min_answers).questions


# -- completions over time ----------------------------------------------------------------------

def weekly_completions(session: Session, course: Course, root: Agency, weeks: int = 12,
                       now: datetime | None = None) -> list[tuple[datetime, int]]:
    """Current completions per week (Monday to Sunday in Vietnam) made in the subtree, each counted
    by the agency at the time of completion: the subtree's weekly tally (`tracking.tallies`, kept
    as completions are recorded and archived), at most `weeks` rows. Returns each week's Monday
    (Vietnam time) with its count."""
    now = now or utcnow()
    this_week = week_of(now)
    days = [this_week - timedelta(weeks=weeks - 1 - index) for index in range(weeks)]
    counts = dict(session.execute(
        select(CompletionTally.week, CompletionTally.completed)
        .where(CompletionTally.agency_id == root.id, CompletionTally.course_id == course.id,
               CompletionTally.week >= days[0], CompletionTally.week <= this_week)).all())
    return [(datetime.combine(day, time(), VIETNAM), counts.get(day, 0)) for day in days]
