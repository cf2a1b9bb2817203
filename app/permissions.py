"""Every authorisation rule, in one place. Views, templates and services ask here.

Managing rights inherit down the agency tree: a manager of an agency manages its whole subtree.
Objects outside a user's scope answer 404, so their existence is not revealed.
"""
from __future__ import annotations

from functools import cache, wraps

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import bindparam, false, or_, select, true

from .extensions import db
from .models import Agency, User

ROLES = ("learner", "manager", "trainer", "admin")


def has_role(user, role: str) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if role == "learner":
        return True
    if role == "manager":
        return user.is_admin or user.is_manager
    if role == "trainer":
        return user.is_trainer or user.is_admin
    if role == "admin":
        return user.is_admin
    raise ValueError(f"unknown role {role!r}")


def require_role(role: str):
    """Decorator: signed in and holding `role`, else 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not has_role(current_user, role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def can_author(user) -> bool:
    """Trainers (and administrators) write lessons and questions."""
    return has_role(user, "trainer")


def require_author(view):
    """Decorator for the authoring pages: signed in and allowed to author, else 403."""
    return require_role("trainer")(view)


def managed_agency_filter(user: User):
    """A SQL predicate on Agency: the agencies `user` manages (every scope's whole subtree)."""
    if user.is_admin:
        return true()
    paths = [scope.agency.path for scope in user.manager_scopes]
    if not paths:
        return false()
    return or_(*(Agency.path.startswith(path, autoescape=True) for path in paths))


def managed_root_agencies(user: User) -> list[Agency]:
    """The tops of the subtrees a user manages (for admins, the roots of the tree)."""
    if user.is_admin:
        return list(db.session.scalars(
            select(Agency).where(Agency.parent_id.is_(None), Agency.is_active).order_by(Agency.name)))
    agencies = [scope.agency for scope in user.manager_scopes]
    # A scope inside another scope of the same user is not a separate root.
    return sorted(
        (a for a in agencies
         if not any(o is not a and a.path.startswith(o.path) for o in agencies)),
        key=lambda a: a.name,
    )


def can_manage_agency(user, agency: Agency) -> bool:
    if not has_role(user, "manager"):
        return False
    if user.is_admin:
        return True
    return any(agency.path.startswith(scope.agency.path) for scope in user.manager_scopes)


def can_view_user(viewer, user: User) -> bool:
    return viewer.id == user.id or can_manage_agency(viewer, user.agency)


def get_agency_or_404(agency_id: int, need: str = "manage") -> Agency:
    """Load an agency the current user may act on, or answer 404."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        abort(404)
    if need == "manage" and not can_manage_agency(current_user, agency):
        abort(404)
    return agency


def can_change_assignment(user, assignment) -> bool:
    """Edit or cancel: a manager of the agency it was given to (so a commune head cannot change the
    province's assignment that covers their commune, which they still see and follow)."""
    return assignment.is_active and can_manage_agency(user, assignment.agency)


def can_view_assignment(user, assignment) -> bool:
    """See: a manager of the agency it was given to, or of an agency it covers."""
    if can_manage_agency(user, assignment.agency):
        return True
    return has_role(user, "manager") and any(scope.agency.path.startswith(assignment.agency.path)
                                             for scope in user.manager_scopes)


def get_assignment_or_404(assignment_id: int, need: str = "view"):
    """An assignment the current user may see (`need="view"`) or change (`need="change"`), or 404."""
    from .models import Assignment

    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or not can_view_assignment(current_user, assignment):
        abort(404)
    if need == "change" and not can_change_assignment(current_user, assignment):
        abort(404)
    return assignment


def get_user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not can_view_user(current_user, user):
        abort(404)
    return user




def can_remind_person(user, person: User) -> bool:
    """A manager emails a reminder only to the active people of the agencies they manage."""
    return person.is_active and can_manage_agency(user, person.agency)


def get_person_to_remind_or_404(user_id: int) -> User:
    """Load a person the current user may remind, or answer 404 (as for a person they cannot see)."""
    person = db.session.get(User, user_id)
    if person is None or not can_remind_person(current_user, person):
        abort(404)
    return person


def get_own_attempt_or_404(attempt_id: int):
    """An attempt of the current learner; anyone else's answers 404."""
    from .models import Attempt

    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(404)
    return attempt


def get_own_attempt_question_or_404(attempt_id: int, position: int):
    """(attempt, its question at `position` or None, that question's type) of the current learner, in
    one statement: saving an answer is the commonest request of an exam. Anyone else's answers 404.

    The attempt is read FOR SHARE (PostgreSQL): a submission in progress finishes first, and the
    answer is then refused as the attempt is closed; a submission arriving meanwhile waits for it.
    """
    row = db.session.execute(_attempt_question_statement(),
                             {"attempt_id": attempt_id, "position": position}).one_or_none()
    if row is None or row[0].user_id != current_user.id:
        abort(404)
    return tuple(row)


@cache
def _attempt_question_statement():
    """The statement of `get_own_attempt_question_or_404`, built once: at the exam hour's rate of
    saves, building it was a sixth of each."""
    from .models import Attempt, AttemptQuestion, QuestionVersion

    return (select(Attempt, AttemptQuestion, QuestionVersion.type)
            .outerjoin(AttemptQuestion, (AttemptQuestion.attempt_id == Attempt.id)
                       & (AttemptQuestion.position == bindparam("position")))
            .outerjoin(QuestionVersion, QuestionVersion.id == AttemptQuestion.question_version_id)
            .where(Attempt.id == bindparam("attempt_id"))
            .with_for_update(read=True, of=Attempt))


def get_own_completion_or_404(code: str):
    """A completion (certificate) of the current learner; anyone else's answers 404."""
    from .models import CourseCompletion

    completion = db.session.scalar(
        select(CourseCompletion).where(CourseCompletion.certificate_code == code.upper()))
    if completion is None or completion.user_id != current_user.id:
        abort(404)
    return completion


# -- violation reports (app/violations) ---------------------------------------------------------------

def monitored_paths(user) -> list[str]:
    """The paths of the agencies whose subtree `user` monitors as a monitoring officer: one statement,
    kept on the request (never longer: an assignment made by an administrator counts at once)."""
    from flask import has_request_context, request

    from .violations.models import MonitoringOfficer

    if user is None or not user.is_authenticated:
        return []
    key = f"_monitored_paths_{user.id}"
    if has_request_context() and hasattr(request, key):
        return getattr(request, key)
    paths = list(db.session.scalars(
        select(Agency.path).join(MonitoringOfficer, MonitoringOfficer.agency_id == Agency.id)
        .where(MonitoringOfficer.user_id == user.id)))
    if has_request_context():
        setattr(request, key, paths)
    return paths


def is_monitoring_officer(user) -> bool:
    return bool(monitored_paths(user))


def can_handle_violations(user) -> bool:
    """Monitoring officers and administrators open the handling pages."""
    return has_role(user, "admin") or is_monitoring_officer(user)


def handled_agency_filter(user):
    """A SQL predicate on Agency (the case's agency): the subtrees `user` handles reports of."""
    if user.is_admin:
        return true()
    paths = monitored_paths(user)
    if not paths:
        return false()
    return or_(*(Agency.path.startswith(path, autoescape=True) for path in paths))


def can_handle_case(user, case) -> bool:
    """Handle a case (see it with its reporters, change it, download its evidence): an administrator
    or a monitoring officer of a subtree holding the case's agency."""
    if not has_role(user, "learner"):
        return False
    if user.is_admin:
        return True
    return any(case.agency.path.startswith(path) for path in monitored_paths(user))


def can_see_reporter(user, case) -> bool:
    """The reporter's identity is for the handling officers and administrators only."""
    return can_handle_case(user, case)


def can_make_scenario(user, case) -> bool:
    """A trainer turns a closed case into a draft question (it carries no reporter's identity)."""
    return can_author(user) and case.is_closed


def require_violation_handler(view):
    """Decorator for the handling pages: signed in, and an officer or an administrator, else 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not can_handle_violations(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def get_case_or_404(case_id: int, need: str = "handle"):
    """A case the current user may handle (or, need="scenario", turn into a draft), else 404."""
    from .violations.services import case_detail

    case = case_detail(db.session, case_id)
    if case is None:
        abort(404)
    allowed = can_make_scenario(current_user, case) if need == "scenario" else can_handle_case(current_user, case)
    if not allowed:
        abort(404)
    return case


def get_report_or_404(code: str):
    """A report its reporter (or a handler of its case) may see; anyone else's answers 404."""
    from .violations.models import ViolationReport

    report = db.session.scalar(select(ViolationReport).where(ViolationReport.code == code.upper()))
    if report is None or (report.reporter_id != current_user.id and not can_handle_case(current_user, report.case)):
        abort(404)
    return report


def get_evidence_or_404(evidence_id: int):
    """An evidence file its reporter or a handler of its case may download; anyone else's answers 404."""
    from .violations.models import ViolationEvidence

    evidence = db.session.get(ViolationEvidence, evidence_id)
    if evidence is None:
        abort(404)
    report = evidence.report
    if report.reporter_id != current_user.id and not can_handle_case(current_user, report.case):
        abort(404)
    return evidence


def can_see_job(user, job) -> bool:
    """A background job is its asker's alone (cron's daily work has no asker and no page)."""
    return user.is_authenticated and job.user_id is not None and job.user_id == user.id


def can_download_job(user, job) -> bool:
    """Its asker, while the result is kept and the subtree it read is still theirs to manage (a move
    or a withdrawn scope takes the file away with the rights)."""
    from .models import utcnow

    if not can_see_job(user, job) or job.status != "finished" or not job.result_path:
        return False
    if job.expires_at is not None and job.expires_at <= utcnow():
        return False
    return job.agency is None or can_manage_agency(user, job.agency)


def get_own_job_or_404(job_id: int, need: str = "see"):
    """A job of the current user (`need="download"`: whose result they may download now), or 404."""
    from .jobs.models import Job

    job = db.session.get(Job, job_id)
    if job is None or not can_see_job(current_user, job):
        abort(404)
    if need == "download" and not can_download_job(current_user, job):
        abort(404)
    return job
