"""Browsing the agency subtrees a manager is responsible for."""
from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import User
from ..permissions import get_agency_or_404, managed_root_agencies, require_role
from .services import subtree_staff_counts

bp = Blueprint("agencies", __name__, url_prefix="/agencies", template_folder="templates")


@bp.route("/")
@require_role("manager")
def index():
    """The tops of the subtrees the current user manages."""
    roots = managed_root_agencies(current_user)
    counts = subtree_staff_counts(db.session, [agency.id for agency in roots])
    return render_template("agencies/index.html", roots=roots, counts=counts)


@bp.route("/<int:agency_id>")
@require_role("manager")
def show(agency_id: int):
    """One agency: its children with their subtree staff, and its own staff."""
    agency = get_agency_or_404(agency_id, need="manage")
    children = [child for child in agency.children if child.is_active]
    counts = subtree_staff_counts(db.session, [agency.id] + [child.id for child in children])
    staff = db.paginate(
        select(User).where(User.agency_id == agency.id).order_by(User.full_name),
        page=request.args.get("page", 1, type=int), per_page=25, error_out=False,
    )
    return render_template("agencies/show.html", agency=agency, children=children, counts=counts,
                           staff=staff)
