"""Property tests (Hypothesis): random, malformed and oversized input to the content parser, the staff
import parser and the answer endpoint gets a clear error, never a crash and never a partial write."""
import csv
import io
import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.admin.imports import ImportFileError, file_hash, plan_import, read_rows
from app.content.checks import check_content
from app.extensions import db
from app.models import AttemptQuestion, User
from support import csrf_token, started_attempt_id

FIXTURE_RUNS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text that looks like what people paste: Vietnamese letters, punctuation, control characters, very long runs.
messy_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300) | st.sampled_from(
    ["", "---", "---\n---", "\x00", "ắằẳẵặ" * 2000, "id: [", "{{", "- - -", "\ufeff---\nid: x\n---\n"])
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | messy_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(messy_text, children, max_size=4),
    max_leaves=12)


ERROR_FORM = re.compile(r"^(content|quizzes)/\S+(, dòng \d+)?")


def _errors_name(result, file_name: str) -> bool:
    """Some error names the file, and every error says which file (and line) it is about."""
    assert all(ERROR_FORM.match(str(error)) for error in result.errors), [str(e) for e in result.errors]
    return any(file_name in str(error) for error in result.errors)


@FIXTURE_RUNS
@given(body=messy_text)
def test_a_malformed_lesson_file_is_reported_by_name(fixture_content, body):
    content, quizzes = fixture_content
    lesson = content / "lessons" / "01-mau.md"
    original = lesson.read_text(encoding="utf-8")
    try:
        lesson.write_text(body, encoding="utf-8")
        result = check_content(content, quizzes)
        assert result.ok or _errors_name(result, "01-mau.md"), [str(e) for e in result.errors]
    finally:
        lesson.write_text(original, encoding="utf-8")


@FIXTURE_RUNS
@given(document=yaml_values)
def test_a_malformed_question_bank_is_reported_by_name(fixture_content, document):
    content, quizzes = fixture_content
    bank = quizzes / "bank-mau.yaml"
    original = bank.read_text(encoding="utf-8")
    try:
        bank.write_text(yaml.safe_dump({"questions": document}, allow_unicode=True), encoding="utf-8")
        result = check_content(content, quizzes)
        # An empty bank is a well-formed file; the quizzes that draw from it then say what is missing.
        named = _errors_name(result, "bank-mau.yaml")
        assert not result.ok and (named or document in ([], None, {})), [str(e) for e in result.errors]
    finally:
        bank.write_text(original, encoding="utf-8")


def _csv_bytes(rows: list[list[str]], bom: bool) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


header = ["Mã cán bộ", "Họ và tên", "Email", "Mã cơ quan", "Vai trò"]


@FIXTURE_RUNS
@given(data=st.binary(max_size=3000), name=st.sampled_from(["nhan-su.csv", "nhan-su.xlsx", "nhan-su.txt"]))
def test_random_bytes_as_a_staff_file_give_a_clear_error(app, data, name):
    users_before = db.session.scalar(select(func.count(User.id)))
    try:
        rows = read_rows(data, name)
    except ImportFileError as error:
        assert str(error)  # a Vietnamese sentence, not a traceback
    else:
        plan = plan_import(db.session, rows, file_name=name, file_hash=file_hash(data))
        assert plan.errors or not rows or plan.rows_read == len(rows)
    db.session.rollback()
    assert db.session.scalar(select(func.count(User.id))) == users_before


@FIXTURE_RUNS
@given(rows=st.lists(st.lists(messy_text, min_size=0, max_size=7), max_size=12), bom=st.booleans())
def test_ragged_staff_rows_are_named_by_row_and_never_written(app, make_agency, rows, bom):
    users_before = db.session.scalar(select(func.count(User.id)))
    data = _csv_bytes([header, *rows], bom)
    try:
        parsed = read_rows(data, "nhan-su.csv")
    except ImportFileError as error:
        assert str(error)
        return
    plan = plan_import(db.session, parsed, file_name="nhan-su.csv", file_hash=file_hash(data))
    for error in plan.errors:
        assert error.row >= 2 and error.message  # row numbers as in the spreadsheet (the header is row 1)
    db.session.rollback()
    assert db.session.scalar(select(func.count(User.id))) == users_before


def test_answer_payloads_never_crash_and_only_valid_choices_are_stored(client, auth, make_user, fixture_course):
    auth.login(make_user())
    token = csrf_token(client, "/quizzes/final-mau")
    started = client.post("/quizzes/final-mau/start", data={"csrf_token": token})
    attempt_id = started_attempt_id(started)

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(position=st.integers(min_value=-3, max_value=40) | st.sampled_from([10**12]),
           keys=st.lists(messy_text | st.sampled_from(["a", "b", "c", "d", "dung", "sai"]), max_size=8),
           as_json=st.booleans())
    def post_answer(position, keys, as_json):
        if position < 0 or position > 10**9:  # not even a route: the URL converter refuses it
            position = abs(position) % 50
        headers = {"Accept": "application/json"} if as_json else {}
        response = client.post(f"/attempts/{attempt_id}/questions/{position}",
                               data={"csrf_token": token, "answer": keys}, headers=headers)
        assert response.status_code < 500, response.get_data(as_text=True)[:500]

    post_answer()
    db.session.expire_all()
    for item in db.session.scalars(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt_id)):
        assert set(item.answer or []) <= set(item.choice_order)
        if item.version.type in ("single", "true_false"):
            assert len(item.answer or []) <= 1


def test_a_nul_character_in_a_search_or_a_form_is_a_clear_400(client, auth, make_user):
    auth.login(make_user(role="manager"))
    assert client.get("/manage/", query_string={"q": "nguyen\x00"}, follow_redirects=True).status_code == 400
    response = client.post("/auth/login", data={"username": "a\x00", "password": "b"})
    assert response.status_code == 400 and "lang=\"vi\"" in response.get_data(as_text=True)
