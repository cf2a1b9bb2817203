"""Typed models of violation reports (migration 0014): cases, the reports linked to them, their
evidence, the history of each case, monitoring officers and the province's forwarding contacts.

A *case* is one piece of content online (one normalised URL in one province); a *report* is one
person telling us about it. The same URL reported again in the province adds a report to the open
case instead of a second case. Evidence belongs to the report that brought it.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import Agency, User, UTCDateTime, _in_list, utcnow

#: new → verifying → referred (to the competent authority) → resolved, or no_violation
CASE_STATUSES = ("new", "verifying", "referred", "resolved", "no_violation")
CLOSED_STATUSES = ("resolved", "no_violation")
EVENT_KINDS = ("filed", "linked", "status", "forwarded")
CONTACT_KINDS = ("inspectorate", "police")
EVIDENCE_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")


class MonitoringOfficer(db.Model):
    """A person who handles the violation reports of an agency's subtree (one of a group, maybe)."""

    __tablename__ = "monitoring_officer"
    __table_args__ = (UniqueConstraint("user_id", "agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    agency: Mapped[Agency] = relationship()


class ViolationContact(db.Model):
    """Where a province's cases are forwarded: its inspectorate or its police, by e-mail."""

    __tablename__ = "violation_contact"
    __table_args__ = (
        UniqueConstraint("agency_id", "kind"),
        CheckConstraint(_in_list("kind", CONTACT_KINDS), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the province (or the root of the tree) whose cases go there
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    agency: Mapped[Agency] = relationship()


class ViolationCase(db.Model):
    """One piece of content online reported in a province, and what is being done about it."""

    __tablename__ = "violation_case"
    __table_args__ = (
        UniqueConstraint("province_id", "url_key"),
        CheckConstraint(_in_list("status", CASE_STATUSES), name="status_known"),
        CheckConstraint(f"({_in_list('status', CLOSED_STATUSES)}) = (closed_at IS NOT NULL)",
                        name="closed_iff_closed_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: public code shown on receipts ("VP-2026-000123")
    code: Mapped[str] = mapped_column(String(20), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    #: the URL normalised (see services.normalise_url): the same content reported twice meets here
    url_key: Mapped[str] = mapped_column(String(2000))
    #: the province (the nearest ancestor of kind province, or the root) the duplicate rule is about
    province_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    #: the first reporter's agency: the case belongs to its subtree
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    #: the agency whose monitoring officers handle it (the nearest with one, up the tree); None if none
    officer_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    platform: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="new")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the first status change or forwarding by an officer
    first_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship(foreign_keys=[agency_id])
    officer_agency: Mapped[Agency | None] = relationship(foreign_keys=[officer_agency_id])
    reports: Mapped[list[ViolationReport]] = relationship(back_populates="case", order_by="ViolationReport.id")
    events: Mapped[list[ViolationEvent]] = relationship(back_populates="case", order_by="ViolationEvent.id")

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


class ViolationReport(db.Model):
    """One person's report of a case, with the evidence they sent."""

    __tablename__ = "violation_report"
    __table_args__ = (CheckConstraint("length(description) > 0", name="description_given"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: public code on the receipt ("BC-…")
    code: Mapped[str] = mapped_column(String(20), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("violation_case.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    #: the reporter's agency when filing
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    platform: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text)
    #: the reporter asked that their name not be passed on when the case is forwarded
    withhold_name: Mapped[bool] = mapped_column(Boolean, default=False)
    #: True when the URL was already a case: this report joined it
    joined_existing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[ViolationCase] = relationship(back_populates="reports")
    reporter: Mapped[User] = relationship()
    agency: Mapped[Agency] = relationship()
    evidence: Mapped[list[ViolationEvidence]] = relationship(back_populates="report",
                                                              order_by="ViolationEvidence.position")


class ViolationEvidence(db.Model):
    """A file as received: its bytes are stored unchanged under `storage_key`, never modified."""

    __tablename__ = "violation_evidence"
    __table_args__ = (
        UniqueConstraint("report_id", "position"),
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        CheckConstraint(_in_list("content_type", EVIDENCE_TYPES), name="content_type_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("violation_report.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    #: the name the file had on the reporter's device (shown only; never used as a path)
    original_name: Mapped[str] = mapped_column(String(255))
    #: the type found from the content, not the name
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: the server's time of receipt
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: where the original is, relative to the evidence folder
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    #: the re-encoded preview (images only), relative to the evidence folder
    preview_key: Mapped[str | None] = mapped_column(String(255))

    report: Mapped[ViolationReport] = relationship(back_populates="evidence")


class ViolationEvent(db.Model):
    """Something that happened to a case: filed, a report joined, a status change, a forwarding."""

    __tablename__ = "violation_event"
    __table_args__ = (
        CheckConstraint(_in_list("kind", EVENT_KINDS), name="kind_known"),
        CheckConstraint(f"to_status IS NULL OR {_in_list('to_status', CASE_STATUSES)}", name="to_status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("violation_case.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: None for the command line
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    #: for the handling officers only
    note: Mapped[str] = mapped_column(Text, default="")
    #: shown to the reporters of the case
    reporter_note: Mapped[str] = mapped_column(Text, default="")
    #: forwarding: to whom, the package's SHA-256, and whether reporters' names were left out
    forwarded_to: Mapped[str | None] = mapped_column(String(255))
    package_sha256: Mapped[str | None] = mapped_column(String(64))
    names_withheld: Mapped[bool | None] = mapped_column(Boolean)

    case: Mapped[ViolationCase] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class ViolationDigestMessage(db.Model):
    """A digest of late cases sent to one person on one day; never twice the same day."""

    __tablename__ = "violation_digest_message"
    __table_args__ = (UniqueConstraint("user_id", "sent_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    #: the day in Vietnam's time zone
    sent_on: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cases: Mapped[int] = mapped_column(Integer)


class ViolationScenario(db.Model):
    """A draft question a trainer made from a closed case; its placeholders replace what was real.

    `replaced` keeps the real words that were taken out, so publishing the draft can refuse any of
    them put back.
    """

    __tablename__ = "violation_scenario"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("violation_case.id"), index=True)
    #: the slug of the question draft (content_draft.slug, kind "question")
    draft_slug: Mapped[str] = mapped_column(String(80), unique=True)
    replaced: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
