"""Bulk import of staff from XLSX or CSV: read, plan (the preview), apply all or nothing.

The rules, also stated on the import page and in docs/import.md:

* one row per person; columns «Mã cán bộ», «Họ và tên», «Email», «Mã cơ quan» (required),
  «Vai trò» and «Trạng thái» (optional); English headers are accepted too;
* a person is matched by employee code (or, failing that, by the email of an account that has no
  employee code yet); unmatched rows create accounts with the employee code in lower case as the
  username and no usable password: an administrator sets one on the person's page;
* «Vai trò» only grants: «quản lý» manages the person's agency, «giảng viên» and «quản trị» add
  those roles; nothing is ever revoked by an import (that is done on the person's page);
* «Trạng thái» «nghỉ việc» deactivates the account; «đang làm việc» reactivates it; empty leaves
  it as it is; nobody absent from the file is touched;
* any bad row stops the whole import: nothing is applied until the file is clean.

Planning is set-based: the agencies, the users matched by code or email, their scopes and the
usernames in the way are loaded in a few queries (chunked IN lists), never one query per row.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import record
from ..auth.services import normalise_email, normalise_name, unusable_password_hash
from ..content.text import strip_diacritics
from ..models import Agency, ManagerScope, User
from ..uploads import UploadError, check_upload, csv_rows, sniff, xlsx_rows

#: field → the header of the template (Vietnamese, as staff files are written)
COLUMNS = {
    "employee_code": "Mã cán bộ",
    "full_name": "Họ và tên",
    "email": "Email",
    "agency_code": "Mã cơ quan",
    "role": "Vai trò",
    "status": "Trạng thái",
}
REQUIRED = ("employee_code", "full_name", "email", "agency_code")
#: header as written, without diacritics and in lower case → field
HEADER_ALIASES = {
    "ma can bo": "employee_code", "ma cb": "employee_code", "ma nhan vien": "employee_code",
    "ma cong chuc": "employee_code", "employee code": "employee_code", "employee_code": "employee_code",
    "staff code": "employee_code", "code": "employee_code",
    "ho va ten": "full_name", "ho ten": "full_name", "full name": "full_name",
    "full_name": "full_name", "name": "full_name",
    "email": "email", "e-mail": "email", "thu dien tu": "email",
    "ma co quan": "agency_code", "ma don vi": "agency_code", "agency code": "agency_code",
    "agency_code": "agency_code", "agency": "agency_code",
    "vai tro": "role", "role": "role", "roles": "role",
    "trang thai": "status", "status": "status",
}
ROLE_VALUES = {
    "hoc vien": "learner", "learner": "learner",
    "quan ly": "manager", "manager": "manager",
    "giang vien": "trainer", "trainer": "trainer",
    "quan tri": "admin", "quan tri vien": "admin", "admin": "admin", "administrator": "admin",
}
STATUS_VALUES = {
    "dang lam viec": "active", "active": "active",
    "nghi viec": "left", "da nghi viec": "left", "left": "left", "inactive": "left",
}
ROLE_LABELS = {"learner": "học viên", "manager": "quản lý", "trainer": "giảng viên", "admin": "quản trị"}
MAX_ROWS = 50_000
#: the columns read from each row: the header is looked for in these, the rest is never read
READ_COLUMNS = 64
#: as the web form allows (MAX_CONTENT_LENGTH); the command line is held to the same
MAX_FILE_BYTES = 10 * 1024 * 1024
#: rows per IN (...) list: well under SQLite's and PostgreSQL's limits on bound parameters
CHUNK = 5_000
_ROLE_SEPARATORS = re.compile(r"[,;+/]")
_USERNAME_UNSAFE = re.compile(r"[^a-z0-9._-]+")

KINDS = ("created", "updated", "moved", "deactivated", "unchanged")
KIND_LABELS = {"created": "Tạo mới", "updated": "Cập nhật", "moved": "Chuyển cơ quan",
               "deactivated": "Vô hiệu hóa", "unchanged": "Không thay đổi"}


class ImportFileError(UploadError):
    """The file cannot be read at all; the message is for the user, in Vietnamese."""


@dataclass
class RowError:
    #: the row number in the spreadsheet (the header is row 1)
    row: int
    #: the column header, as in the template
    column: str
    message: str

    def __str__(self) -> str:
        where = f"Dòng {self.row}" + (f", cột «{self.column}»" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class SourceRow:
    """A row as read from the file: its number and the raw text of each known column."""

    number: int
    values: dict[str, str]


@dataclass
class Change:
    """What applying one row does to one account."""

    row: int
    kind: str
    employee_code: str
    full_name: str
    email: str
    agency_code: str
    user_id: int | None = None
    #: for a new account
    username: str | None = None
    #: Vietnamese field label → (before, after), for an existing account
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)
    agency_from: str | None = None
    is_trainer: bool = False
    is_admin: bool = False
    #: grant a manager scope on the row's agency
    grant_scope: bool = False
    #: "active", "left" or None (leave as it is)
    status: str | None = None
    note: str = ""


@dataclass
class ImportPlan:
    """The preview: what applying the file will create, update, move and deactivate, or its errors."""

    file_name: str
    file_hash: str
    rows_read: int = 0
    changes: list[Change] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: agency code → id, for apply
    agency_ids: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and self.rows_read > 0

    def of_kind(self, kind: str) -> list[Change]:
        return [change for change in self.changes if change.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for change in self.changes:
            counts[change.kind] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return any(change.kind != "unchanged" for change in self.changes)


# -- reading --------------------------------------------------------------------------------------

def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_rows(data: bytes, file_name: str) -> list[SourceRow]:
    """The rows of an XLSX or CSV staff file, keyed by field; raises ImportFileError.

    The file is judged by its content and streamed (app.uploads): only the first READ_COLUMNS
    columns are read, whatever the sheet declares, and reading stops at MAX_ROWS rows."""
    try:
        kind = check_upload(data, allowed=("xlsx", "csv"), max_bytes=MAX_FILE_BYTES)
    except UploadError as error:
        if data and sniff(data) is None and file_name.lower().endswith(".csv"):
            raise ImportFileError("Tệp CSV phải được lưu với bảng mã UTF-8 (trong Excel: "
                                  "«CSV UTF-8 (Comma delimited)»).") from error
        if data and sniff(data) is None:
            raise ImportFileError("Chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv).") from error
        raise ImportFileError(str(error)) from error
    if kind == "csv" and not file_name.lower().endswith(".csv"):
        raise ImportFileError("Chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv).")
    reader = xlsx_rows if kind == "xlsx" else csv_rows
    try:
        return _rows_by_field(reader(data, max_columns=READ_COLUMNS))
    except UploadError as error:
        raise ImportFileError(str(error)) from error


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code typed as a number comes back as 1234.0
    # Control characters (a NUL from a damaged file, stray form feeds) are never part of a name,
    # a code or an address, and PostgreSQL refuses NUL outright: drop them.
    text = CONTROL_CHARACTERS.sub("", str(value))
    return unicodedata.normalize("NFC", text).strip()


def _header_key(text: str) -> str:
    return " ".join(strip_diacritics(text).replace("*", " ").split())


def _rows_by_field(table: Iterable[tuple[int, list]]) -> list[SourceRow]:
    iterator = iter(table)
    header = None
    for number, cells in iterator:
        if any(_cell_text(cell) for cell in cells):
            header = (number, [_cell_text(cell) for cell in cells])
            break
    if header is None:
        raise ImportFileError("Tệp không có dữ liệu.")
    positions: dict[str, int] = {}
    for index, title in enumerate(header[1]):
        key = HEADER_ALIASES.get(_header_key(title))
        if key is not None and key not in positions:
            positions[key] = index
    missing = [COLUMNS[key] for key in REQUIRED if key not in positions]
    if missing:
        raise ImportFileError(f"Dòng {header[0]}: thiếu cột {', '.join(f'«{m}»' for m in missing)}. "
                              "Hãy dùng dòng tiêu đề của tệp mẫu.")
    rows = []
    limit = f"{MAX_ROWS:,}".replace(",", ".")  # Vietnamese thousands separator
    for scanned, (number, cells) in enumerate(iterator, 1):
        values = {key: _cell_text(cells[index]) if index < len(cells) else ""
                  for key, index in positions.items()}
        if any(values.values()):
            rows.append(SourceRow(number, values))
        if len(rows) > MAX_ROWS:
            raise ImportFileError(f"Tệp có hơn {limit} dòng; hãy chia thành nhiều tệp.")
        if scanned > 4 * MAX_ROWS:  # rows that are there but empty still cost reading
            raise ImportFileError(f"Dòng {number}: tệp có quá nhiều dòng trống; hãy chỉ giữ lại danh sách "
                                  f"cần nhập (tối đa {limit} dòng).")
    return rows


# -- planning -------------------------------------------------------------------------------------

@dataclass
class _Existing:
    """The columns of a user that the plan compares against: no ORM objects, no lazy loads."""

    id: int
    username: str
    email: str
    full_name: str
    employee_code: str | None
    agency_id: int
    is_active: bool
    is_trainer: bool
    is_admin: bool


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _load_users(session: Session, column, values: list[str]) -> list[_Existing]:
    found = []
    for chunk in _chunks(values):
        found.extend(_Existing(*row) for row in session.execute(
            select(User.id, User.username, User.email, User.full_name, User.employee_code,
                   User.agency_id, User.is_active, User.is_trainer, User.is_admin)
            .where(column.in_(chunk))))
    return found


def _parse_roles(text: str) -> set[str] | None:
    roles = set()
    for part in _ROLE_SEPARATORS.split(text):
        key = " ".join(strip_diacritics(part).split())
        if not key:
            continue
        role = ROLE_VALUES.get(key)
        if role is None:
            return None
        roles.add(role)
    return roles


def _username_base(code: str) -> str:
    base = _USERNAME_UNSAFE.sub("-", strip_diacritics(code)).strip("-.") or "cb"
    return base if len(base) >= 3 else f"cb-{base}"


def plan_import(session: Session, rows: list[SourceRow], *, file_name: str, file_hash: str,
                actor: User | None = None, on_progress: Callable[[int], None] | None = None) -> ImportPlan:
    """Check every row and work out what applying the file would change (nothing is written)."""
    plan = ImportPlan(file_name=file_name, file_hash=file_hash, rows_read=len(rows))
    parsed = _check_rows(rows, plan.errors, on_progress)

    codes = sorted({row["employee_code"] for row in parsed})
    emails = sorted({row["email"] for row in parsed})
    agencies = {}
    wanted = {row.values.get("agency_code", "") for row in rows} - {""}
    for chunk in _chunks(sorted(wanted)):
        agencies.update((a.code, a) for a in session.scalars(select(Agency).where(Agency.code.in_(chunk))))
    # A row that already failed a simple check is still told about an unknown agency code.
    failed = {error.row for error in plan.errors}
    for source in rows:
        code = source.values.get("agency_code", "")
        if source.number in failed and code and code not in agencies:
            plan.errors.append(RowError(source.number, COLUMNS["agency_code"], f"Không có cơ quan mã «{code}»."))
    agency_codes_by_id = {a.id: a.code for a in agencies.values()}
    by_code = {user.employee_code: user for user in _load_users(session, User.employee_code, codes)}
    by_email = {user.email: user for user in _load_users(session, User.email, emails)}
    missing_agency_ids = {u.agency_id for u in (*by_code.values(), *by_email.values())} - set(agency_codes_by_id)
    for chunk in _chunks(sorted(missing_agency_ids)):
        agency_codes_by_id.update(session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(chunk))).all())
    matched_ids = sorted({u.id for u in by_code.values()} | {u.id for u in by_email.values()})
    scopes: set[tuple[int, int]] = set()
    for chunk in _chunks(matched_ids):
        scopes.update(session.execute(select(ManagerScope.user_id, ManagerScope.agency_id)
                                      .where(ManagerScope.user_id.in_(chunk))).all())
    merged_into = {a.merged_into_id for a in agencies.values() if a.merged_into_id}
    for chunk in _chunks(sorted(merged_into)):
        agency_codes_by_id.update(session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(chunk))).all())
    plan.agency_ids = {code: agency.id for code, agency in agencies.items()}

    taken = _taken_usernames(session, parsed, by_code, by_email)
    for row in parsed:
        change = _plan_row(row, plan.errors, agencies, agency_codes_by_id, by_code, by_email, scopes,
                           taken, actor)
        if change is not None:
            plan.changes.append(change)
    plan.errors.sort(key=lambda error: (error.row, list(COLUMNS.values()).index(error.column)
                                        if error.column in COLUMNS.values() else -1))
    if not rows:
        plan.errors.append(RowError(2, "", "Tệp không có dòng dữ liệu nào dưới dòng tiêu đề."))
    return plan


def _check_rows(rows: list[SourceRow], errors: list[RowError],
                on_progress: Callable[[int], None] | None) -> list[dict]:
    """Checks that need no database: required values, formats, roles, repeats inside the file."""
    parsed = []
    first_code: dict[str, int] = {}
    first_email: dict[str, tuple[int, str]] = {}
    for index, source in enumerate(rows, 1):
        values, number = source.values, source.number
        row_errors = []

        def fail(key: str, message: str) -> None:
            row_errors.append(RowError(number, COLUMNS[key], message))

        code = values.get("employee_code", "")
        name = normalise_name(values.get("full_name", ""))
        raw_email = values.get("email", "")
        agency_code = values.get("agency_code", "")
        if not code:
            fail("employee_code", "Thiếu mã cán bộ.")
        elif len(code) > 50:
            fail("employee_code", "Mã cán bộ dài quá 50 ký tự.")
        elif code in first_code:
            fail("employee_code", f"Mã cán bộ «{code}» xuất hiện hai lần trong tệp (đã có ở dòng {first_code[code]}).")
        else:
            first_code[code] = number
        if not name:
            fail("full_name", "Thiếu họ và tên.")
        elif len(name) > 255:
            fail("full_name", "Họ và tên dài quá 255 ký tự.")
        email = normalise_email(raw_email)
        if not email:
            fail("email", "Thiếu email.")
        else:
            try:
                validate_email(email, check_deliverability=False)
            except EmailNotValidError:
                fail("email", f"Email «{raw_email}» không hợp lệ.")
            else:
                if email in first_email and first_email[email][1] != code:
                    fail("email", f"Email «{email}» đã dùng cho người khác ở dòng {first_email[email][0]}.")
                first_email.setdefault(email, (number, code))
        if not agency_code:
            fail("agency_code", "Thiếu mã cơ quan.")
        roles = _parse_roles(values.get("role", ""))
        if roles is None:
            fail("role", f"Vai trò «{values['role']}» không hợp lệ; dùng: học viên, quản lý, giảng viên, "
                         "quản trị (nhiều vai trò cách nhau bằng dấu phẩy).")
        status_text = " ".join(strip_diacritics(values.get("status", "")).split())
        status = STATUS_VALUES.get(status_text) if status_text else None
        if status_text and status is None:
            fail("status", f"Trạng thái «{values['status']}» không hợp lệ; dùng «đang làm việc» hoặc "
                           "«nghỉ việc», hoặc để trống.")
        if row_errors:
            errors.extend(row_errors)
        else:
            parsed.append({"number": number, "employee_code": code, "full_name": name, "email": email,
                           "agency_code": agency_code, "roles": roles, "status": status})
        if on_progress is not None and index % 500 == 0:
            on_progress(500)
    if on_progress is not None and len(rows) % 500:
        on_progress(len(rows) % 500)
    return parsed


def _taken_usernames(session: Session, parsed: list[dict], by_code: dict, by_email: dict) -> set[str]:
    """Usernames already in use among those new accounts would be given (and their variants)."""
    new_rows = [row for row in parsed if row["employee_code"] not in by_code
                and (row["email"] not in by_email or by_email[row["email"]].employee_code is not None)]
    candidates = sorted({f"{base}{suffix}" for base in {_username_base(r["employee_code"]) for r in new_rows}
                         for suffix in ("", *(f"-{n}" for n in range(2, 10)))})
    taken = set()
    for chunk in _chunks(candidates):
        taken.update(session.scalars(select(User.username).where(User.username.in_(chunk))))
    return taken


def _plan_row(row: dict, errors: list[RowError], agencies: dict[str, Agency], agency_codes: dict[int, str],
              by_code: dict, by_email: dict, scopes: set, taken: set[str], actor: User | None) -> Change | None:
    number = row["number"]
    agency = agencies.get(row["agency_code"])
    row_errors = []
    if agency is None:
        row_errors.append(RowError(number, COLUMNS["agency_code"],
                                   f"Không có cơ quan mã «{row['agency_code']}»."))
    elif not agency.is_active:
        into = agency_codes.get(agency.merged_into_id, "")
        row_errors.append(RowError(number, COLUMNS["agency_code"],
                                   f"Cơ quan «{agency.code}» đã ngừng hoạt động"
                                   + (f" (đã hợp nhất vào «{into}»)." if into else ".")))
    user = by_code.get(row["employee_code"])
    holder = by_email.get(row["email"])
    adopt_code = False
    if user is None and holder is not None and holder.employee_code is None:
        user, adopt_code = holder, True  # an account made by hand before the staff file: adopt it
    elif holder is not None and (user is None or holder.id != user.id):
        row_errors.append(RowError(number, COLUMNS["email"],
                                   f"Email «{row['email']}» đã thuộc tài khoản khác «{holder.username}»"
                                   + (f" (mã cán bộ {holder.employee_code})." if holder.employee_code else ".")))
    if actor is not None and user is not None and user.id == actor.id and row["status"] == "left":
        row_errors.append(RowError(number, COLUMNS["status"], "Bạn không thể tự vô hiệu hóa tài khoản của mình."))
    if row_errors:
        errors.extend(row_errors)
        return None

    roles = row["roles"] or set()
    change = Change(row=number, kind="unchanged", employee_code=row["employee_code"],
                    full_name=row["full_name"], email=row["email"], agency_code=agency.code,
                    is_trainer="trainer" in roles, is_admin="admin" in roles, status=row["status"])
    if user is None:
        if row["status"] == "left":
            change.note = "Chưa có tài khoản; người đã nghỉ việc nên không tạo."
            return change
        change.kind = "created"
        change.grant_scope = "manager" in roles
        base = _username_base(row["employee_code"])
        change.username = next((name for name in (base, *(f"{base}-{n}" for n in range(2, 10)))
                                if name not in taken), None)
        if change.username is None:
            errors.append(RowError(number, COLUMNS["employee_code"],
                                   f"Không đặt được tên đăng nhập từ mã «{row['employee_code']}» vì đã bị dùng."))
            return None
        taken.add(change.username)
        return change

    change.user_id = user.id
    fields = change.fields
    if adopt_code:
        fields[COLUMNS["employee_code"]] = ("", row["employee_code"])
    if user.full_name != row["full_name"]:
        fields[COLUMNS["full_name"]] = (user.full_name, row["full_name"])
    if user.email != row["email"]:
        fields[COLUMNS["email"]] = (user.email, row["email"])
    if change.is_trainer and not user.is_trainer:
        fields["Giảng viên"] = ("không", "có")
    if change.is_admin and not user.is_admin:
        fields["Quản trị"] = ("không", "có")
    change.is_trainer = change.is_trainer and not user.is_trainer
    change.is_admin = change.is_admin and not user.is_admin
    if "manager" in roles and (user.id, agency.id) not in scopes:
        change.grant_scope = True
        fields["Quản lý"] = ("", agency.code)
    if row["status"] == "active" and not user.is_active:
        fields[COLUMNS["status"]] = ("nghỉ việc", "đang làm việc")
    moved = user.agency_id != agency.id
    if moved:
        change.agency_from = agency_codes.get(user.agency_id, "")
    if row["status"] == "left" and user.is_active:
        change.kind = "deactivated"
    elif moved:
        change.kind = "moved"
    elif fields:
        change.kind = "updated"
    else:
        change.status = None
    if row["status"] == "left" and not user.is_active and not moved and not fields:
        change.note = "Đã vô hiệu hóa từ trước."
    return change


# -- applying -------------------------------------------------------------------------------------

def apply_import(session: Session, plan: ImportPlan, actor: User | None = None) -> dict[str, int]:
    """Write a clean plan in the caller's transaction (the caller commits once); returns the counts.

    Every account created or changed gets its own audit record, and the import one more.
    """
    if not plan.ok:
        raise ImportFileError("Tệp còn lỗi; chưa thay đổi gì.")
    _create_accounts(session, plan, actor)
    _update_accounts(session, plan, actor)
    counts = plan.counts
    record(session, actor, "users.imported", ("import", plan.file_hash[:16]),
           after={"file": plan.file_name, "sha256": plan.file_hash, **counts},
           summary=f"Nhập danh sách cán bộ từ «{plan.file_name}»: " + ", ".join(
               f"{KIND_LABELS[kind].lower()} {counts[kind]}" for kind in KINDS))
    session.flush()
    return counts


def _create_accounts(session: Session, plan: ImportPlan, actor: User | None) -> None:
    created = []
    for change in plan.of_kind("created"):
        user = User(username=change.username, email=change.email, full_name=change.full_name,
                    search_name=strip_diacritics(change.full_name), employee_code=change.employee_code,
                    agency_id=plan.agency_ids[change.agency_code], password_hash=unusable_password_hash(),
                    is_trainer=change.is_trainer, is_admin=change.is_admin, is_active=True)
        if change.grant_scope:
            user.manager_scopes = [ManagerScope(agency_id=plan.agency_ids[change.agency_code])]
        session.add(user)
        created.append((change, user))
    session.flush()
    for change, user in created:
        roles = ["Học viên"] + [label for flag, label in ((change.grant_scope, "Quản lý"),
                                                         (change.is_trainer, "Giảng viên"),
                                                         (change.is_admin, "Quản trị")) if flag]
        record(session, actor, "user.created", user, summary=f"Nhập từ tệp (dòng {change.row}): tạo tài khoản {user.username}",
               after={"username": user.username, "email": user.email, "full_name": user.full_name,
                      "employee_code": user.employee_code, "agency": change.agency_code, "roles": roles})


def created_users(session: Session, plan: ImportPlan) -> list[User]:
    """The accounts an applied plan created (to invite them)."""
    users = []
    for chunk in _chunks([change.username for change in plan.of_kind("created")]):
        users.extend(session.scalars(select(User).where(User.username.in_(chunk))))
    return users


def _update_accounts(session: Session, plan: ImportPlan, actor: User | None) -> None:
    changes = [c for c in plan.changes if c.kind in ("updated", "moved", "deactivated")]
    users = {}
    for chunk in _chunks([c.user_id for c in changes]):
        users.update((u.id, u) for u in session.scalars(select(User).where(User.id.in_(chunk))))
    for change in changes:
        user = users[change.user_id]
        before, after = {}, {}

        def put(key, old, new):
            before[key], after[key] = old, new

        if change.fields.get(COLUMNS["employee_code"]):
            put("employee_code", user.employee_code, change.employee_code)
            user.employee_code = change.employee_code
        if user.full_name != change.full_name:
            put("full_name", user.full_name, change.full_name)
            user.full_name, user.search_name = change.full_name, strip_diacritics(change.full_name)
        if user.email != change.email:
            put("email", user.email, change.email)
            user.email = change.email
        agency_id = plan.agency_ids[change.agency_code]
        if user.agency_id != agency_id:
            put("agency", change.agency_from, change.agency_code)
            user.agency_id = agency_id
        if change.is_trainer:
            put("is_trainer", False, True)
            user.is_trainer = True
        if change.is_admin:
            put("is_admin", False, True)
            user.is_admin = True
        if change.grant_scope:
            put("manages", None, change.agency_code)
            session.add(ManagerScope(user_id=user.id, agency_id=agency_id))
        if change.status == "active" and not user.is_active:
            put("is_active", False, True)
            user.is_active = True
        if change.status == "left" and user.is_active:
            put("is_active", True, False)
            user.is_active = False
            user.session_version += 1  # as a deactivation on the page: every session ends (auth.sessions)
        action = "user.deactivated" if change.kind == "deactivated" else "user.updated"
        record(session, actor, action, user, before=before, after=after,
               summary=f"Nhập từ tệp (dòng {change.row}): {KIND_LABELS[change.kind].lower()} {user.username}")
    session.flush()


# -- the template ---------------------------------------------------------------------------------

#: example rows: codes that no real staff number looks like, agencies of the demo province
TEMPLATE_ROWS = [
    ("MAU-001", "Nguyễn Thị Lan", "lan.nt@example.gov.vn", "HA-TP-VP", "học viên", "đang làm việc"),
    ("MAU-002", "Trần Văn Bình", "binh.tv@example.gov.vn", "HA-YT", "quản lý", "đang làm việc"),
    ("MAU-003", "Lê Thu Hà", "ha.lt@example.gov.vn", "HA-KHCN", "giảng viên", ""),
    ("MAU-004", "Phạm Minh Đức", "duc.pm@example.gov.vn", "HA-GD", "", "nghỉ việc"),
]


def template_csv() -> bytes:
    """The template as CSV: UTF-8 with a BOM so Excel shows the Vietnamese headers right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS.values())
    writer.writerows(TEMPLATE_ROWS)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Cán bộ"
    sheet.append(list(COLUMNS.values()))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in TEMPLATE_ROWS:
        sheet.append(list(row))
    for column, width in zip("ABCDEF", (14, 26, 30, 14, 22, 16)):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("Hướng dẫn")
    for line in (
        "Mỗi dòng là một người; dòng 1 là tiêu đề, giữ nguyên.",
        "Bắt buộc: Mã cán bộ, Họ và tên, Email, Mã cơ quan.",
        "Vai trò: học viên (mặc định), quản lý (quản lý cơ quan ghi ở cột Mã cơ quan), giảng viên, "
        "quản trị; nhiều vai trò cách nhau bằng dấu phẩy. Nhập tệp chỉ cấp thêm, không thu hồi vai trò.",
        "Trạng thái: «nghỉ việc» vô hiệu hóa tài khoản; «đang làm việc» kích hoạt lại; để trống: giữ nguyên.",
        "Người không có trong tệp không bị thay đổi.",
        "Tài khoản mới có tên đăng nhập là mã cán bộ (chữ thường) và chưa có mật khẩu: "
        "quản trị viên đặt mật khẩu trên trang của từng người.",
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 120
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
