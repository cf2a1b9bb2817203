"""Agency tree services. Paths are kept in step with parent links; nothing is ever deleted."""
from __future__ import annotations

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.orm import Session, aliased

from ..models import AGENCY_KINDS, Agency, AuditLog, ManagerScope, User


class AgencyError(ValueError):
    """A rule about the tree was broken; the message is for the user, in Vietnamese."""


def create_agency(session: Session, *, code: str, name: str, kind: str,
                  parent: Agency | None = None, actor: User | None = None) -> Agency:
    if kind not in AGENCY_KINDS:
        raise AgencyError(f"Loại cơ quan «{kind}» không hợp lệ.")
    if session.scalar(select(Agency.id).where(Agency.code == code)):
        raise AgencyError(f"Mã cơ quan «{code}» đã được dùng.")
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
    old_path, old_depth = agency.path, agency.depth
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
    _audit(session, actor, "agency.moved", agency, before=before,
           after={"parent": new_parent.code if new_parent else None})


def merge_agency(session: Session, source: Agency, target: Agency, actor: User | None = None) -> None:
    """Merge `source` into `target`: its people, children and manager scopes move to the target.

    The source stays, inactive, with `merged_into_id` set, so history that names it survives.
    """
    if source.id == target.id or target.path.startswith(source.path):
        raise AgencyError("Không thể hợp nhất một cơ quan vào chính nó hoặc cơ quan cấp dưới của nó.")
    for child in list(source.children):
        move_agency(session, child, target, actor)
    session.execute(update(User).where(User.agency_id == source.id).values(agency_id=target.id))
    _merge_scopes(session, source, target)
    source.is_active = False
    source.merged_into_id = target.id
    session.flush()
    session.expire_all()  # the bulk UPDATE of users bypassed the identity map
    _audit(session, actor, "agency.merged", source, after={"merged_into": target.code})


def _merge_scopes(session: Session, source: Agency, target: Agency) -> None:
    already = set(session.scalars(select(ManagerScope.user_id).where(ManagerScope.agency_id == target.id)))
    for scope in session.scalars(select(ManagerScope).where(ManagerScope.agency_id == source.id)):
        if scope.user_id in already:
            session.delete(scope)
        else:
            scope.agency_id = target.id
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


def _audit(session: Session, actor: User | None, action: str, agency: Agency, *,
           before: dict | None = None, after: dict | None = None) -> None:
    session.add(AuditLog(actor_id=actor.id if actor else None, action=action, object_type="agency",
                         object_id=str(agency.id), summary=f"{agency.code}: {agency.name}",
                         before=before, after=after))
    session.flush()
