"""Agency tree services. Paths are kept in step with parent links; nothing is ever deleted."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.orm import Session, aliased, joinedload

from ..audit import record
from ..models import AGENCY_KINDS, Agency, Assignment, CourseCompletion, ManagerScope, User
from ..tracking import coverage, progress
from ..tracking.tallies import move_tallies


class AgencyError(ValueError):
    """A rule about the tree was broken; the message is for the user, in Vietnamese."""


def create_agency(session: Session, *, code: str, name: str, kind: str,
                  parent: Agency | None = None, actor: User | None = None) -> Agency:
    code, name = code.strip(), " ".join(name.split())
    if kind not in AGENCY_KINDS:
        raise AgencyError(f"Loại cơ quan «{kind}» không hợp lệ.")
    if not code or not name:
        raise AgencyError("Mã và tên cơ quan không được để trống.")
    if session.scalar(select(Agency.id).where(Agency.code == code)):
        raise AgencyError(f"Mã cơ quan «{code}» đã được dùng.")
    if parent is not None and not parent.is_active:
        raise AgencyError(f"Cơ quan cấp trên «{parent.name}» đã ngừng hoạt động (đã hợp nhất).")
    agency = Agency(code=code, name=name, kind=kind, parent=parent)
    session.add(agency)
    session.flush()  # the id is part of the path
    agency.path = f"{parent.path if parent else '/'}{agency.id}/"
    agency.depth = parent.depth + 1 if parent else 0
    _audit(session, actor, "agency.created", agency, after={"code": code, "name": name,
                                                            "parent": parent.code if parent else None})
    return agency


def move_agency(session: Session, agency: Agency, new_parent: Agency | None,
                actor: User | None = None) -> None:
    """Move a whole subtree under `new_parent` in one UPDATE; a cycle is refused."""
    if new_parent is not None and new_parent.path.startswith(agency.path):
        raise AgencyError("Không thể chuyển một cơ quan vào chính nó hoặc cơ quan cấp dưới của nó.")
    if new_parent is not None and not new_parent.is_active:
        raise AgencyError(f"Cơ quan «{new_parent.name}» đã ngừng hoạt động (đã hợp nhất); hãy chọn cơ quan khác.")
    old_path, old_depth = agency.path, agency.depth
    old_ancestor_ids = agency.ancestor_ids()[:-1]
    new_path = f"{new_parent.path if new_parent else '/'}{agency.id}/"
    depth_change = (new_parent.depth + 1 if new_parent else 0) - old_depth
    before = {"parent": agency.parent.code if agency.parent else None}
    agency.parent = new_parent
    session.flush()
    session.execute(
        update(Agency)
        .where(Agency.path.startswith(old_path, autoescape=True))
        .values(path=literal(new_path, String) + func.substr(Agency.path, len(old_path) + 1),
                depth=Agency.depth + depth_change)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    move_tallies(session, agency, old_ancestor_ids, new_parent.ancestor_ids() if new_parent else [])
    coverage.mark_subtree(session, agency.id)  # the UPDATE of its paths is not seen by the ORM
    progress.mark_subtree(session, agency.id)  # other assignments may govern it now
    _audit(session, actor, "agency.moved", agency, before=before,
           after={"parent": new_parent.code if new_parent else None})


DOCUMENT_FIELDS = ("document_symbol", "signer_title", "signer_name")


def rename_agency(session: Session, agency: Agency, *, name: str, code: str | None = None,
                  actor: User | None = None, **documents: str | None) -> dict:
    """Change an agency's name (and code, and its report settings: `document_symbol`, `signer_title`,
    `signer_name`); returns the changed fields, {} when nothing changed."""
    name = " ".join(name.split())
    code = agency.code if code is None else code.strip()
    if not name or not code:
        raise AgencyError("Mã và tên cơ quan không được để trống.")
    if code != agency.code and session.scalar(select(Agency.id).where(Agency.code == code, Agency.id != agency.id)):
        raise AgencyError(f"Mã cơ quan «{code}» đã được dùng.")
    unknown = set(documents) - set(DOCUMENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown agency settings: {sorted(unknown)}")
    wanted = {"code": code, "name": name}
    wanted.update({key: " ".join(value.split()) for key, value in documents.items() if value is not None})
    before = {key: getattr(agency, key) for key, value in wanted.items() if getattr(agency, key) != value}
    if not before:
        return {}
    after = {key: wanted[key] for key in before}
    summary = f"{agency.code}: {agency.name}"
    for key, value in wanted.items():
        setattr(agency, key, value)
    session.flush()
    record(session, actor, "agency.renamed", agency, before=before, after=after, summary=summary)
    session.flush()
    return after


@dataclass
class ScopeChange:
    """A manager whose scope is the merged agency, and what the merge does to it."""

    scope: ManagerScope
    user: User
    #: the agency (the target or one above it) the manager already manages: the merged agency comes
    #: under it, so dropping the scope changes nothing; None when moving the scope would widen it
    covered_by: Agency | None = None

    @property
    def would_widen(self) -> bool:
        return self.covered_by is None


@dataclass
class MergePlan:
    """What merging `source` into `target` will move, shown to the administrator before confirming."""

    source: Agency
    target: Agency
    #: people placed directly in the source (they move to the target)
    staff: int = 0
    children: list[Agency] = field(default_factory=list)
    managers: int = 0
    #: every scope over the source, by manager: none moves to the target unless the administrator says so
    scope_changes: list[ScopeChange] = field(default_factory=list)
    #: active assignments given to the source: moved to the target, or closed when the target has one
    assignments_moved: list[Assignment] = field(default_factory=list)
    assignments_closed: list[Assignment] = field(default_factory=list)
    #: completions recorded at the source; they keep naming it and are counted under the target
    completions: int = 0


def plan_merge(session: Session, source: Agency, target: Agency) -> MergePlan:
    """Check a merge is allowed and count what it will move (a handful of queries)."""
    if source.id == target.id or target.path.startswith(source.path):
        raise AgencyError("Không thể hợp nhất một cơ quan vào chính nó hoặc cơ quan cấp dưới của nó.")
    if not source.is_active or not target.is_active:
        raise AgencyError("Chỉ hợp nhất được hai cơ quan đang hoạt động.")
    plan = MergePlan(source, target)
    plan.staff = session.scalar(select(func.count(User.id)).where(User.agency_id == source.id)) or 0
    plan.children = list(session.scalars(select(Agency).where(Agency.parent_id == source.id)
                                         .order_by(Agency.name)))
    plan.scope_changes = _plan_scopes(session, source, target)
    plan.managers = len(plan.scope_changes)
    target_courses = set(session.scalars(select(Assignment.course_id).where(
        Assignment.agency_id == target.id, Assignment.is_active)))
    for assignment in session.scalars(select(Assignment).where(
            Assignment.agency_id == source.id, Assignment.is_active).order_by(Assignment.id)):
        closing = assignment.course_id in target_courses
        (plan.assignments_closed if closing else plan.assignments_moved).append(assignment)
    plan.completions = session.scalar(select(func.count(CourseCompletion.id))
                                      .where(CourseCompletion.agency_id == source.id)) or 0
    return plan


def merge_agency(session: Session, source: Agency, target: Agency, actor: User | None = None,
                 widen_user_ids: Collection[int] = ()) -> MergePlan:
    """Merge `source` into `target`: its people, children and assignments follow.

    A scope over the source never silently becomes a scope over the target's whole subtree: it is
    removed, unless the manager's id is in `widen_user_ids` (the administrator's explicit choice).

    The source stays, inactive, with `merged_into_id` set, and is moved under the target: the
    completions recorded there keep naming it (the agency at the time of completion) and are now
    counted in the target's subtree, so no completion is lost from any report.
    """
    plan = plan_merge(session, source, target)
    widen = set(widen_user_ids)
    allowed = {change.user.id for change in plan.scope_changes if change.would_widen}
    if widen - allowed:
        raise AgencyError("Chỉ mở rộng được quyền quản lý của người đang quản lý đúng cơ quan được hợp nhất.")
    before = {"parent": source.parent.code if source.parent else None, "staff": plan.staff,
              "children": [child.code for child in plan.children], "managers": plan.managers}
    after = {"merged_into": target.code, "staff_moved": plan.staff,
             "assignments_moved": [a.id for a in plan.assignments_moved],
             "assignments_closed": [a.id for a in plan.assignments_closed],
             "completions_kept": plan.completions,
             "scopes_removed": sorted(c.user.username for c in plan.scope_changes if c.user.id not in widen),
             "scopes_widened": sorted(c.user.username for c in plan.scope_changes if c.user.id in widen)}
    summary = f"Hợp nhất {source.code} vào {target.code}: {target.name}"
    for child in plan.children:
        move_agency(session, child, target, actor)
    session.execute(update(User).where(User.agency_id == source.id).values(agency_id=target.id)
                    .execution_options(synchronize_session=False))
    progress.mark(session, [source.id, target.id])  # the bulk UPDATE is not seen by the ORM
    _merge_scopes(session, plan, widen, actor)
    for assignment in plan.assignments_moved:
        assignment.agency_id = target.id
    for assignment in plan.assignments_closed:
        assignment.is_active = False
    session.flush()
    if source.parent_id != target.id:
        move_agency(session, source, target, actor)
    source.is_active = False
    source.merged_into_id = target.id
    session.flush()
    session.expire_all()  # the bulk UPDATE of users bypassed the identity map
    record(session, actor, "agency.merged", source, before=before, after=after, summary=summary)
    session.flush()
    return plan


def _plan_scopes(session: Session, source: Agency, target: Agency) -> list[ScopeChange]:
    """The scopes over `source` with their managers, and which of them the target already covers (2 queries)."""
    scopes = session.scalars(select(ManagerScope).options(joinedload(ManagerScope.user))
                             .where(ManagerScope.agency_id == source.id)).all()
    covering = {}  # user id -> the agency at or above the target they manage
    for user_id, agency in session.execute(
            select(ManagerScope.user_id, Agency).join(Agency, Agency.id == ManagerScope.agency_id)
            .where(ManagerScope.user_id.in_([scope.user_id for scope in scopes]),
                   ManagerScope.agency_id.in_(target.ancestor_ids()))
            .order_by(Agency.depth)).all():
        covering.setdefault(user_id, agency)
    changes = [ScopeChange(scope, scope.user, covering.get(scope.user_id)) for scope in scopes]
    return sorted(changes, key=lambda change: (change.user.full_name, change.user.username))


def _merge_scopes(session: Session, plan: MergePlan, widen: set[int], actor: User | None) -> None:
    """Remove each scope over the source, or (explicitly chosen) turn it into a scope over the target."""
    source, target = plan.source, plan.target
    for change in plan.scope_changes:
        user = change.user
        if user.id in widen:
            change.scope.agency_id = target.id
            record(session, actor, "user.scope_granted", user,
                   before={"manages": source.code}, after={"manages": target.code, "reason": "agency.merged"},
                   summary=f"Hợp nhất {source.code} vào {target.code}: quản trị viên chọn giao cho "
                           f"{user.username} quyền quản lý toàn bộ {target.code}: {target.name}")
            continue
        session.delete(change.scope)
        if change.covered_by is not None:
            note = f"vẫn quản lý {source.code} qua quyền quản lý {change.covered_by.code}: {change.covered_by.name}"
        else:
            note = f"không được mở rộng sang {target.code}: {target.name}"
        record(session, actor, "user.scope_revoked", user,
               before={"manages": source.code}, after={"manages": None, "reason": "agency.merged"},
               summary=f"Hợp nhất {source.code} vào {target.code}: thu hồi quyền quản lý {source.code} "
                       f"của {user.username} ({note})")
    session.flush()


def subtree_staff_counts(session: Session, agency_ids: list[int]) -> dict[int, int]:
    """Active staff in the whole subtree of each given agency, in one query."""
    if not agency_ids:
        return {}
    top = aliased(Agency)
    member = aliased(Agency)
    rows = session.execute(
        select(top.id, func.count(User.id))
        .select_from(top)
        .join(member, member.path.startswith(top.path))
        .join(User, (User.agency_id == member.id) & User.is_active)
        .where(top.id.in_(agency_ids))
        .group_by(top.id)
    )
    counts = dict.fromkeys(agency_ids, 0)
    counts.update(rows.all())
    return counts


def direct_staff_counts(session: Session, agency_ids: list[int]) -> dict[int, int]:
    """Active staff placed directly in each given agency (not below it), in one query."""
    if not agency_ids:
        return {}
    counts = dict.fromkeys(agency_ids, 0)
    counts.update(session.execute(
        select(User.agency_id, func.count(User.id))
        .where(User.agency_id.in_(agency_ids), User.is_active)
        .group_by(User.agency_id)).all())
    return counts


def _audit(session: Session, actor: User | None, action: str, agency: Agency, *,
           before: dict | None = None, after: dict | None = None) -> None:
    record(session, actor, action, agency, before=before, after=after,
           summary=f"{agency.code}: {agency.name}")
    session.flush()
