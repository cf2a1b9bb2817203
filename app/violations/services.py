"""Violation reports: filing with evidence, routing to monitoring officers, handling, forwarding,
time limits and the figures for heads of agencies.

Services take a session, validate, flush and return data; the view or command commits once.
"""
from __future__ import annotations

import csv
import io
import re
import secrets
import statistics
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import func, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from ..audit import record
from ..formatting import VIETNAM, format_datetime_local
from ..models import Agency, ManagerScope, User, utcnow
from .evidence import CheckedFile, EvidenceStore
from .models import (
    CASE_STATUSES,
    CLOSED_STATUSES,
    MonitoringOfficer,
    ViolationCase,
    ViolationContact,
    ViolationEvent,
    ViolationEvidence,
    ViolationReport,
)

#: The twelve kinds of unlawful information, in the order and words of the Yên Bái letter
#: (stttt-yen-bai-2021, mục 1), with the short titles lesson 3 gives them. tests/test_violations.py
#: checks every `quote` against the letter's text in content/sources/.
TWELVE_KINDS = [
    ("sai-su-that", "Sai sự thật, vu khống, xúc phạm",
     "Cung cấp nội dung thông tin sai sự thật, vu khống, xuyên tạc, xúc phạm uy tín của cơ quan, tổ chức và danh dự, nhân phẩm của cá nhân"),
    ("bi-mat-doi-tu", "Tiết lộ bí mật đời tư hoặc bí mật khác",
     "Tiết lộ bí mật đời tư hoặc bí mật khác khi chưa được sự đồng ý của cá nhân, tổ chức có liên quan trừ trường hợp pháp luật quy định"),
    ("chong-nha-nuoc", "Tuyên truyền chống Nhà nước",
     "Tuyên truyền chống Nhà nước Cộng hòa xã hội chủ nghĩa Việt Nam; phá hoại khối đại đoàn kết toàn dân tộc"),
    ("kich-dong", "Kích động chiến tranh, hận thù, bạo lực",
     "Tuyên truyền kích động chiến tranh xâm lược, gây hận thù giữa các dân tộc và nhân dân các nước; kích động bạo lực; truyền bá tư tưởng phản động"),
    ("xuyen-tac-lich-su", "Xuyên tạc lịch sử, xúc phạm anh hùng dân tộc",
     "Xuyên tạc sự thật lịch sử, phủ nhận thành tựu cách mạng; xúc phạm dân tộc, danh nhân, anh hùng dân tộc"),
    ("loi-ich-dat-nuoc", "Không phù hợp với lợi ích đất nước",
     "Cung cấp nội dung thông tin không phù hợp với lợi ích đất nước"),
    ("me-tin", "Mê tín dị đoan, trái thuần phong mỹ tục",
     "Cung cấp nội dung thông tin mê tín dị đoan, không phù hợp thuần phong mỹ tục Việt Nam"),
    ("tac-pham-cam", "Tác phẩm đã bị cấm lưu hành hoặc tịch thu",
     "Đăng phát các tác phẩm đã có quyết định cấm lưu hành hoặc tịch thu"),
    ("gia-mao-trang", "Giả mạo trang của người khác",
     "Giả mạo trang thông tin điện tử của tổ chức, cá nhân khác"),
    ("dam-o-rung-ron", "Miêu tả tỉ mỉ dâm ô, chém giết, tai nạn rùng rợn",
     "Miêu tả tỉ mỉ hành động dâm ô, chém, giết, tai nạn rừng rợn trong các tin, bài, phim, ảnh"),
    ("ban-do-sai", "Bản đồ Việt Nam sai chủ quyền",
     "Sử dụng hình ảnh bản đồ Việt Nam thể hiện không đúng chủ quyền quốc gia"),
    ("trich-dan-sai", "Trích dẫn sai nguồn tin chính thức",
     "Trích dẫn không nguyên văn, chính xác nguồn tin chính thức theo quy định"),
]
#: The three violations the Tuyên Quang police found most often (cat-tuyen-quang-2021, hành vi (1)–(3)).
COMMON_VIOLATIONS = [
    ("thong-tin-nguoi-benh", "Đăng thông tin cá nhân của người bệnh",
     "Đăng tải, chia sẻ thông tin cá nhân (*hình ảnh, danh tính, tuổi, địa chỉ...*) của người bệnh Covid-19"),
    ("van-ban-noi-bo", "Đăng văn bản, ảnh chụp văn bản nội bộ chưa được công khai",
     "Đăng tải, chia sẻ các hình ảnh, văn bản (*hoặc ảnh chụp hình văn bản*) của cơ quan quản lý nhà nước các cấp để trao đổi trong quá trình xử lý công việc không được phép công khai"),
    ("tin-sai-xuc-pham", "Đăng tin sai sự thật, vu khống, xúc phạm",
     "Đăng tải, chia sẻ các nội dung thông tin sai sự thật, vu khống, xuyên tạc, xúc phạm uy tín của cơ quan, tổ chức và danh dự, nhân phẩm của cá nhân"),
]
KIND_SOURCES = {"twelve": "stttt-yen-bai-2021", "common": "cat-tuyen-quang-2021"}
KIND_LABELS = {key: label for key, label, _ in TWELVE_KINDS + COMMON_VIOLATIONS}

PLATFORMS = [("facebook", "Facebook"), ("zalo", "Zalo"), ("youtube", "YouTube"), ("tiktok", "TikTok"),
             ("website", "Trang web, báo điện tử"), ("other", "Khác")]
PLATFORM_LABELS = dict(PLATFORMS)

STATUS_LABELS = {
    "new": "Mới",
    "verifying": "Đang xác minh",
    "referred": "Đã chuyển cơ quan chức năng",
    "resolved": "Đã xử lý",
    "no_violation": "Không vi phạm",
}
#: which status may follow which; a closed case can be reopened for verification
NEXT_STATUSES = {
    "new": ("verifying", "referred", "resolved", "no_violation"),
    "verifying": ("referred", "resolved", "no_violation"),
    "referred": ("verifying", "resolved", "no_violation"),
    "resolved": ("verifying",),
    "no_violation": ("verifying",),
}
CONTACT_LABELS = {"inspectorate": "Thanh tra", "police": "Công an"}
SUBJECT_PREFIX = "[Học ứng xử trên MXH]"

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: query parameters that only track who clicked: dropped when comparing URLs
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|igshid|mibextid|si|ref|ref_src|__cft__.*|__tn__)$")


class ViolationError(ValueError):
    """A request that cannot be carried out; the message is for the person, in Vietnamese."""


def new_code(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def normalise_url(url: str) -> str:
    """The same content however its link was copied: scheme and "www."/"m." dropped, host in lower
    case, no fragment, no tracking parameters, the rest of the query sorted, no trailing slash."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m.", "mobile.", "web."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = sorted((key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
                   if not _TRACKING_PARAMS.match(key))
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    return urlunsplit(("", host, path, urlencode(query), "")).lstrip("/")


def is_web_url(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "." in parts.hostname


# -- the tree: provinces and officers ---------------------------------------------------------------

def ancestors(session: Session, agency: Agency) -> list[Agency]:
    """The agency and everything above it, root first, in one statement."""
    ids = agency.ancestor_ids()
    rows = {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def province_of(chain: list[Agency]) -> Agency:
    """The nearest province above (or at) an agency, else the root of its tree."""
    for agency in reversed(chain):
        if agency.kind == "province":
            return agency
    return chain[0]


def officer_agency_for(session: Session, chain: list[Agency]) -> Agency | None:
    """The nearest agency up the chain (itself first) that has an active monitoring officer."""
    ids = {row for row in session.scalars(
        select(MonitoringOfficer.agency_id).join(User, User.id == MonitoringOfficer.user_id)
        .where(MonitoringOfficer.agency_id.in_([a.id for a in chain]), User.is_active))}
    for agency in reversed(chain):
        if agency.id in ids:
            return agency
    return None


def officers_of(session: Session, agency: Agency) -> list[User]:
    return list(session.scalars(select(User).join(MonitoringOfficer, MonitoringOfficer.user_id == User.id)
                                .where(MonitoringOfficer.agency_id == agency.id, User.is_active)
                                .order_by(User.full_name)))


def set_officer(session: Session, agency: Agency, user: User, actor: User) -> MonitoringOfficer:
    """Make `user` a monitoring officer of `agency`'s subtree (administrators only, checked by the view)."""
    existing = session.scalar(select(MonitoringOfficer).where(
        MonitoringOfficer.agency_id == agency.id, MonitoringOfficer.user_id == user.id))
    if existing:
        raise ViolationError(f"{user.full_name} đã là cán bộ theo dõi của {agency.name}.")
    officer = MonitoringOfficer(agency=agency, user=user)
    session.add(officer)
    session.flush()
    record(session, actor, "violation.officer_added", officer, after={"agency": agency.code, "user": user.username},
           summary=f"{user.full_name} — {agency.name}")
    return officer


def remove_officer(session: Session, officer: MonitoringOfficer, actor: User) -> None:
    record(session, actor, "violation.officer_removed", officer,
           before={"agency": officer.agency.code, "user": officer.user.username},
           summary=f"{officer.user.full_name} — {officer.agency.name}")
    session.delete(officer)
    session.flush()


def set_contact(session: Session, agency: Agency, kind: str, name: str, email: str, actor: User) -> ViolationContact:
    """Where the cases of a province are forwarded (one inspectorate and one police contact)."""
    contact = session.scalar(select(ViolationContact).where(ViolationContact.agency_id == agency.id,
                                                            ViolationContact.kind == kind))
    before = {"name": contact.name, "email": contact.email} if contact else None
    if contact is None:
        contact = ViolationContact(agency=agency, kind=kind)
        session.add(contact)
    contact.name, contact.email = name.strip(), email.strip()
    session.flush()
    record(session, actor, "violation.contact_set", contact, before=before,
           after={"name": contact.name, "email": contact.email}, summary=f"{agency.name}: {contact.name}")
    return contact


def contacts_for(session: Session, case: ViolationCase) -> list[ViolationContact]:
    return list(session.scalars(select(ViolationContact).where(ViolationContact.agency_id == case.province_id)
                                .order_by(ViolationContact.kind)))


# -- filing -----------------------------------------------------------------------------------------

@dataclass
class Filing:
    url: str
    platform: str
    kind: str
    seen_at: datetime
    description: str
    withhold_name: bool = False


def file_report(session: Session, reporter: User, filing: Filing, files: list[CheckedFile],
                store: EvidenceStore, written: list[str], now: datetime | None = None) -> ViolationReport:
    """Record a report and its evidence; join the open case of the same URL in the province if any.

    The files have been checked already. They are written last, after every row is flushed, and
    their keys are appended to `written` as they go so the caller removes them if the commit fails.
    """
    now = now or utcnow()
    if filing.kind not in KIND_LABELS:
        raise ViolationError("Loại vi phạm không hợp lệ.")
    if filing.platform not in PLATFORM_LABELS:
        raise ViolationError("Nền tảng không hợp lệ.")
    if not is_web_url(filing.url):
        raise ViolationError("Đường link phải bắt đầu bằng http:// hoặc https:// và có tên miền.")
    chain = ancestors(session, reporter.agency)
    province = province_of(chain)
    key = normalise_url(filing.url)
    case = session.scalar(select(ViolationCase).where(ViolationCase.province_id == province.id,
                                                      ViolationCase.url_key == key).with_for_update())
    joined = case is not None
    if case is None:
        officer_agency = officer_agency_for(session, chain)
        case = ViolationCase(code=new_code("VP"), url=filing.url.strip(), url_key=key, province_id=province.id,
                             agency_id=reporter.agency_id, officer_agency=officer_agency,
                             platform=filing.platform, kind=filing.kind, status="new", created_at=now)
        session.add(case)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # someone filed the same URL a moment ago: join theirs
            case = session.scalar(select(ViolationCase).where(ViolationCase.province_id == province.id,
                                                              ViolationCase.url_key == key))
            joined = True
    report = ViolationReport(code=new_code("BC"), case=case, reporter=reporter, agency_id=reporter.agency_id,
                             url=filing.url.strip(), platform=filing.platform, kind=filing.kind,
                             seen_at=filing.seen_at, description=filing.description.strip(),
                             withhold_name=filing.withhold_name, joined_existing=joined, created_at=now)
    session.add(report)
    session.add(ViolationEvent(case=case, kind="linked" if joined else "filed", actor=reporter, created_at=now,
                               to_status=None if joined else "new"))
    session.flush()
    for position, checked in enumerate(files, start=1):
        session.add(ViolationEvidence(
            report=report, position=position, original_name=checked.original_name,
            content_type=checked.content_type, size=checked.size, sha256=checked.sha256, received_at=now,
            storage_key=store.new_key(report.code, checked.content_type),
            preview_key=store.new_key(report.code, checked.content_type, preview=True) if checked.preview else None))
    session.flush()
    for checked, evidence in zip(files, report.evidence):
        written.append(evidence.storage_key)
        store.write(evidence.storage_key, checked.data)
        if evidence.preview_key:
            written.append(evidence.preview_key)
            store.write(evidence.preview_key, checked.preview)
    return report


def commit_or_remove(session: Session, store: EvidenceStore, written: list[str]) -> None:
    """Commit; if that fails, remove the files written for it and re-raise."""
    try:
        session.commit()
    except BaseException:
        session.rollback()
        store.remove(written)
        raise


def reports_of(session: Session, user: User) -> list[ViolationReport]:
    return list(session.scalars(select(ViolationReport).where(ViolationReport.reporter_id == user.id)
                                .options(joinedload(ViolationReport.case)).order_by(ViolationReport.id.desc())))


# -- handling ---------------------------------------------------------------------------------------

def change_status(session: Session, case: ViolationCase, actor: User, to_status: str, note: str,
                  reporter_note: str, now: datetime | None = None) -> ViolationEvent:
    """Move a case to `to_status`, with a note at every change (checked here, not only in the form)."""
    now = now or utcnow()
    if to_status not in NEXT_STATUSES[case.status]:
        raise ViolationError(f"Không thể chuyển từ «{STATUS_LABELS[case.status]}» sang "
                             f"«{STATUS_LABELS.get(to_status, to_status)}».")
    if not note.strip():
        raise ViolationError("Cần ghi chú cho mỗi lần đổi trạng thái.")
    event = ViolationEvent(case=case, kind="status", actor=actor, created_at=now, from_status=case.status,
                           to_status=to_status, note=note.strip(), reporter_note=reporter_note.strip())
    session.add(event)
    case.status = to_status
    case.first_action_at = case.first_action_at or now
    case.closed_at = now if to_status in CLOSED_STATUSES else None
    session.flush()
    return event


def case_detail(session: Session, case_id: int) -> ViolationCase | None:
    return session.scalar(select(ViolationCase).where(ViolationCase.id == case_id).options(
        selectinload(ViolationCase.reports).selectinload(ViolationReport.evidence),
        selectinload(ViolationCase.reports).joinedload(ViolationReport.reporter),
        selectinload(ViolationCase.reports).joinedload(ViolationReport.agency),
        selectinload(ViolationCase.events).joinedload(ViolationEvent.actor)))


def reporter_events(case: ViolationCase) -> list[ViolationEvent]:
    """What a reporter sees: filing and status changes with the notes meant for them (no internal notes)."""
    return [event for event in case.events if event.kind in ("filed", "status", "forwarded")]


# -- forwarding -------------------------------------------------------------------------------------

@dataclass
class Package:
    data: bytes
    sha256: str
    #: (path in the ZIP, SHA-256, size) of every original
    manifest: list[tuple[str, str, int]] = field(default_factory=list)


def evidence_package(case: ViolationCase, store: EvidenceStore, summary_pdf: bytes) -> Package:
    """A ZIP of the originals as received, a manifest of their hashes and the PDF summary."""
    import hashlib

    buffer = io.BytesIO()
    manifest = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for report in case.reports:
            for evidence in report.evidence:
                safe_name = re.sub(r"[^\w.-]+", "_", evidence.original_name)[:80]
                name = f"chung-cu/{report.code}-{evidence.position:02d}-{safe_name}"
                data = store.read(evidence.storage_key)
                archive.writestr(name, data)
                manifest.append((name, evidence.sha256, evidence.size))
        lines = io.StringIO()
        writer = csv.writer(lines)
        writer.writerow(("tep", "sha256", "byte"))
        writer.writerows(manifest)
        archive.writestr("manifest.csv", lines.getvalue())
        # The same in the format of `sha256sum -c`: the receiver checks the files with one command.
        archive.writestr("SHA256SUMS", "".join(f"{digest}  {name}\n" for name, digest, _ in manifest))
        archive.writestr("tom-tat.pdf", summary_pdf)
    data = buffer.getvalue()
    return Package(data, hashlib.sha256(data).hexdigest(), manifest)


def forward_case(session: Session, case: ViolationCase, actor: User, contact: ViolationContact, *,
                 withhold_names: bool, note: str, mailer, store: EvidenceStore, base_url: str,
                 now: datetime | None = None) -> ViolationEvent:
    """E-mail the case with its evidence package to the province's contact and record it.

    Reporters who asked are never named; `withhold_names` leaves every reporter out.
    """
    from .exports import case_summary_pdf

    now = now or utcnow()
    if contact.agency_id != case.province_id:
        raise ViolationError("Đầu mối này không thuộc tỉnh của vụ việc.")
    summary = case_summary_pdf(case, now=now, withhold_names=withhold_names)
    package = evidence_package(case, store, summary)
    subject = f"{SUBJECT_PREFIX} Chuyển thông tin vi phạm {case.code} — {KIND_LABELS[case.kind]}"
    body = (f"Kính gửi {contact.name},\n\n"
            f"{actor.agency.name} chuyển đến quý cơ quan thông tin có dấu hiệu vi phạm pháp luật trên mạng:\n\n"
            f"Mã vụ việc: {case.code}\nĐường link: {case.url}\nNền tảng: {PLATFORM_LABELS[case.platform]}\n"
            f"Loại: {KIND_LABELS[case.kind]}\nSố báo cáo: {len(case.reports)}\n"
            f"Tiếp nhận lúc: {format_datetime_local(case.created_at)}\n\n"
            + (f"Ghi chú: {note.strip()}\n\n" if note.strip() else "")
            + "Kèm theo: tệp ZIP gồm các tệp chứng cứ nguyên gốc, danh sách mã SHA-256 (manifest.csv, SHA256SUMS) "
            f"và bản tóm tắt (tom-tat.pdf). Mã SHA-256 của tệp ZIP: {package.sha256}\n\n"
            f"Người chuyển: {actor.full_name}, {actor.agency.name}.\n")
    with mailer:
        mailer.send(contact.email, subject, body,
                    attachments=[(f"{case.code}.zip", "application", "zip", package.data)])
    event = ViolationEvent(case=case, kind="forwarded", actor=actor, created_at=now, note=note.strip(),
                           reporter_note=f"Đã chuyển thông tin đến {CONTACT_LABELS[contact.kind].lower()} ({contact.name}).",
                           forwarded_to=f"{contact.name} <{contact.email}>", package_sha256=package.sha256,
                           names_withheld=withhold_names or any(r.withhold_name for r in case.reports))
    session.add(event)
    case.first_action_at = case.first_action_at or now
    if case.status in ("new", "verifying"):
        event.from_status, event.to_status = case.status, "referred"
        case.status = "referred"
    session.flush()
    return event


# -- time limits ------------------------------------------------------------------------------------

def working_days_between(start: datetime, end: datetime) -> int:
    """Whole working days (Monday to Friday, Vietnam time) after `start`'s day up to `end`'s day."""
    first, last = start.astimezone(VIETNAM).date(), end.astimezone(VIETNAM).date()
    if last <= first:
        return 0
    days = (last - first).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(1, rest + 1):
        if (first + timedelta(days=weeks * 7 + offset)).weekday() < 5:
            count += 1
    return count


def add_working_days(start: datetime, days: int) -> date:
    day = start.astimezone(VIETNAM).date()
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


@dataclass
class LateCase:
    case_id: int
    code: str
    kind: str
    agency_name: str
    created_at: datetime
    working_days: int


@dataclass
class Digest:
    user_id: int
    full_name: str
    email: str
    #: cases they handle, not acted on in time
    handling: list[LateCase]
    #: cases still not acted on later, under the monitoring officers of their subtree
    escalated: list[LateCase]


def late_cases(session: Session, now: datetime, action_days: int, escalate_days: int) -> list[Digest]:
    """Who gets a digest of cases nobody has acted on: the officers the case is routed to after
    `action_days` working days, then the head (manager) of that agency or the nearest above it
    after `escalate_days`. Three statements whatever the number of cases."""
    rows = session.execute(
        select(ViolationCase.id, ViolationCase.code, ViolationCase.kind, ViolationCase.created_at,
               ViolationCase.officer_agency_id, Agency.name, Agency.path)
        .join(Agency, Agency.id == ViolationCase.agency_id)
        .where(ViolationCase.first_action_at.is_(None), ViolationCase.status == "new")
        .order_by(ViolationCase.created_at)).all()
    late = []
    for row in rows:
        days = working_days_between(row.created_at, now)
        if days >= action_days:
            late.append((row, LateCase(row.id, row.code, row.kind, row.name, row.created_at, days)))
    if not late:
        return []
    officers = session.execute(
        select(MonitoringOfficer.agency_id, User.id, User.full_name, User.email)
        .join(User, User.id == MonitoringOfficer.user_id).where(User.is_active)).all()
    heads = session.execute(
        select(ManagerScope.agency_id, Agency.path, User.id, User.full_name, User.email)
        .join(User, User.id == ManagerScope.user_id).join(Agency, Agency.id == ManagerScope.agency_id)
        .where(User.is_active, Agency.is_active)).all()
    officers_by_agency: dict[int, list] = {}
    for row in officers:
        officers_by_agency.setdefault(row.agency_id, []).append(row)
    heads_by_agency: dict[int, list] = {}
    for row in heads:
        heads_by_agency.setdefault(row.agency_id, []).append(row)
    digests: dict[int, Digest] = {}

    def digest_of(person) -> Digest:
        return digests.setdefault(person.id, Digest(person.id, person.full_name, person.email, [], []))

    for row, item in late:
        for person in officers_by_agency.get(row.officer_agency_id, []):
            digest_of(person).handling.append(item)
        if item.working_days >= escalate_days:
            # The head of the officers' agency, or the nearest head above the case's agency.
            chain = [int(part) for part in row.path.strip("/").split("/")]
            if row.officer_agency_id in chain:
                chain = chain[: chain.index(row.officer_agency_id) + 1]
            for agency_id in reversed(chain):
                if agency_id in heads_by_agency:
                    for person in heads_by_agency[agency_id]:
                        digest_of(person).escalated.append(item)
                    break
    return list(digests.values())


def digest_text(digest: Digest, base_url: str, action_days: int, escalate_days: int) -> tuple[str, str]:
    def lines(items: list[LateCase]) -> list[str]:
        return [f"- {item.code} · {KIND_LABELS[item.kind]} · {item.agency_name} · tiếp nhận "
                f"{format_datetime_local(item.created_at, '%d/%m/%Y')} ({item.working_days} ngày làm việc)\n"
                f"  {base_url}/vi-pham/xu-ly/{item.case_id}" for item in items]

    parts = [f"Kính gửi {digest.full_name},\n"]
    if digest.handling:
        parts += [f"Các báo cáo vi phạm chưa được xử lý sau {action_days} ngày làm việc (anh/chị là cán bộ theo dõi):"]
        parts += lines(digest.handling) + [""]
    if digest.escalated:
        parts += [f"Các báo cáo vi phạm thuộc đơn vị anh/chị phụ trách chưa được xử lý sau {escalate_days} ngày làm việc:"]
        parts += [f"- {item.code} · {KIND_LABELS[item.kind]} · {item.agency_name} ({item.working_days} ngày làm việc)"
                  for item in digest.escalated] + [""]
    parts.append("Thư được gửi tự động, xin đừng trả lời.")
    count = len(digest.handling) + len(digest.escalated)
    return f"{SUBJECT_PREFIX} {count} báo cáo vi phạm chưa được xử lý", "\n".join(parts) + "\n"


# -- dashboard --------------------------------------------------------------------------------------

@dataclass
class Dashboard:
    agency: Agency
    total: int
    by_status: list[tuple[str, int]]
    by_kind: list[tuple[str, int]]
    by_platform: list[tuple[str, int]]
    by_month: list[tuple[str, int]]
    #: medians in hours; None when nothing to measure
    median_first_action_hours: float | None
    median_closure_hours: float | None
    open_cases: list[tuple]
    open_total: int


def _month_expression(session: Session):
    """The month of receipt in Vietnam ("2026-12"), written out literally: PostgreSQL matches a GROUP BY
    expression to the selected one only if they are the same text, bound parameters included."""
    if session.get_bind().dialect.name == "postgresql":
        return literal_column("to_char(timezone('Asia/Ho_Chi_Minh', violation_case.created_at), 'YYYY-MM')")
    return literal_column("strftime('%Y-%m', violation_case.created_at, '+7 hours')")


def case_filter(agency: Agency, since: datetime | None = None, until: datetime | None = None):
    conditions = [agency.subtree_filter()]
    if since is not None:
        conditions.append(ViolationCase.created_at >= since)
    if until is not None:
        conditions.append(ViolationCase.created_at < until)
    return conditions


def dashboard(session: Session, agency: Agency, now: datetime | None = None, *, open_limit: int = 100,
              since: datetime | None = None, until: datetime | None = None) -> Dashboard:
    """Counts by status, kind, platform and month, medians and the open list: six statements."""
    now = now or utcnow()
    where = case_filter(agency, since, until)
    base = select(ViolationCase).join(Agency, Agency.id == ViolationCase.agency_id).where(*where)

    def grouped(column):
        return [(key, count) for key, count in session.execute(
            select(column, func.count()).select_from(ViolationCase).join(Agency, Agency.id == ViolationCase.agency_id)
            .where(*where).group_by(column).order_by(func.count().desc(), column))]

    by_status = dict(grouped(ViolationCase.status))
    month = _month_expression(session)
    durations = session.execute(
        select(ViolationCase.created_at, ViolationCase.first_action_at, ViolationCase.closed_at)
        .join(Agency, Agency.id == ViolationCase.agency_id)
        .where(*where, ViolationCase.first_action_at.is_not(None))).all()
    first = [(row.first_action_at - row.created_at).total_seconds() / 3600 for row in durations]
    closed = [(row.closed_at - row.created_at).total_seconds() / 3600 for row in durations if row.closed_at]
    open_rows = session.execute(
        base.with_only_columns(ViolationCase.id, ViolationCase.code, ViolationCase.kind, ViolationCase.platform,
                               ViolationCase.status, ViolationCase.created_at, Agency.name)
        .where(ViolationCase.status.not_in(CLOSED_STATUSES))
        .order_by(ViolationCase.created_at).limit(open_limit)).all()
    open_total = sum(count for status, count in by_status.items() if status not in CLOSED_STATUSES)
    return Dashboard(
        agency=agency, total=sum(by_status.values()),
        by_status=[(status, by_status.get(status, 0)) for status in CASE_STATUSES],
        by_kind=grouped(ViolationCase.kind), by_platform=grouped(ViolationCase.platform),
        by_month=sorted(grouped(month)),
        median_first_action_hours=statistics.median(first) if first else None,
        median_closure_hours=statistics.median(closed) if closed else None,
        open_cases=[(row.id, row.code, row.kind, row.platform, row.status, row.created_at, row.name,
                     (now - row.created_at).days) for row in open_rows],
        open_total=open_total)


def case_rows(session: Session, agency: Agency, since: datetime | None = None, until: datetime | None = None):
    """Every case of the subtree for the XLSX, one statement (reporters are not named)."""
    reports = (select(ViolationReport.case_id, func.count().label("reports"))
               .group_by(ViolationReport.case_id).subquery())
    return session.execute(
        select(ViolationCase.code, ViolationCase.url, ViolationCase.platform, ViolationCase.kind,
               ViolationCase.status, ViolationCase.created_at, ViolationCase.first_action_at,
               ViolationCase.closed_at, Agency.name, reports.c.reports)
        .join(Agency, Agency.id == ViolationCase.agency_id)
        .join(reports, reports.c.case_id == ViolationCase.id)
        .where(*case_filter(agency, since, until)).order_by(ViolationCase.created_at, ViolationCase.id)).all()


def format_hours(hours: float | None) -> str:
    if hours is None:
        return "—"
    if hours < 48:
        return f"{hours:.1f} giờ".replace(".", ",")
    return f"{hours / 24:.1f} ngày".replace(".", ",")


def counts_text(items: list[tuple[str, int]], labels: dict[str, str]) -> str:
    return "; ".join(f"{labels.get(key, key)}: {count}" for key, count in items if count) or "không có"



def send_digests(session: Session, mailer, digests: list[Digest], *, base_url: str, action_days: int,
                 escalate_days: int, now: datetime | None = None) -> tuple[int, int]:
    """Send each digest unless that person already had one today: (sent, skipped).

    Like the learners' reminders, each is claimed in the database and committed before it is sent,
    and a claim whose message fails is given back so the next run retries it.
    """
    from ..reminders.services import local_day
    from .models import ViolationDigestMessage

    now = now or utcnow()
    sent = skipped = 0
    if not digests:
        return sent, skipped
    with mailer:
        for digest in digests:
            claim = ViolationDigestMessage(user_id=digest.user_id, sent_on=local_day(now), sent_at=now,
                                           cases=len(digest.handling) + len(digest.escalated))
            session.add(claim)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                skipped += 1
                continue
            subject, body = digest_text(digest, base_url, action_days, escalate_days)
            try:
                mailer.send(digest.email, subject, body)
            except Exception:
                session.delete(claim)
                session.commit()
                raise
            sent += 1
    return sent, skipped
