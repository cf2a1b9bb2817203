"""Authoring: who may open what, editing with the file rules, drafts, publishing, retiring,
history and audit, injection neutralised, export/load round trip, lists in a fixed number of queries."""
import re

import pytest
from sqlalchemy import func, select

from app.content.checks import check_content
from app.content.export import export_content, question_item
from app.content.services import load_bundle, question_hash
from app.extensions import db
from app.learn import services as learn
from app.models import (Attempt, AuditLog, ContentDraft, Lesson, LessonRevision, Question, QuestionVersion, Quiz,
                        Source)
from support import csrf_token, uncovered_endpoints

ROLES = ["anonymous", "learner", "manager", "trainer", "admin"]
PAGES = ["/author/", "/author/questions", "/author/questions?q=benh&topic=du-lieu-benh-nhan&type=single&difficulty=easy&status=published",
         "/author/questions/new", "/author/questions/q-benh-nhan", "/author/questions/q-benh-nhan/history",
         "/author/lessons", "/author/lessons?q=vi+pham&course=khoa-mau&status=draft", "/author/lessons/new",
         "/author/lessons/l01-mau", "/author/lessons/l01-mau/history",
         "/author/sources/cat-tuyen-quang-2021", "/author/sources/cat-tuyen-quang-2021?partial=1"]
ACTIONS = ["/author/questions/new", "/author/questions/q-benh-nhan", "/author/lessons/new", "/author/lessons/l01-mau",
           "/author/questions/q-benh-nhan/publish-draft", "/author/questions/q-benh-nhan/discard-draft",
           "/author/questions/q-benh-nhan/retire", "/author/questions/q-benh-nhan/restore", "/author/preview"]


@pytest.fixture
def world(app, make_agency, make_user, fixture_course, fixture_content):
    # The files the database was loaded from: the bank rules and the files status read them.
    app.config.update(CONTENT_DIR=str(fixture_content[0]), QUIZZES_DIR=str(fixture_content[1]))
    agency = make_agency()
    users = {role: make_user(role=role, agency=agency) for role in ("learner", "manager", "trainer", "admin")}
    return {"users": users, "course": fixture_course}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", PAGES)
def test_every_page_for_every_role(client, auth, world, role, url):
    if role != "anonymous":
        auth.login(world["users"][role])
    response = client.get(url)
    if role in ("trainer", "admin"):
        assert response.status_code == 200, url
    elif role == "anonymous":
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    else:
        assert response.status_code == 403, (role, url)


@pytest.mark.parametrize("role", ["anonymous", "learner", "manager"])
@pytest.mark.parametrize("url", ACTIONS)
def test_no_change_without_the_trainer_role(client, auth, world, role, url):
    if role != "anonymous":
        auth.login(world["users"][role])
    token = csrf_token(client, "/auth/password" if role != "anonymous" else "/auth/login")
    before = db.session.scalar(select(func.count(AuditLog.id)))
    response = client.post(url, data={"csrf_token": token, "publish": "y", "prompt": "X"})
    assert response.status_code == (302 if role == "anonymous" else 403)
    assert db.session.scalar(select(func.count(AuditLog.id))) == before


def test_the_matrix_covers_every_authoring_url(app):
    assert not uncovered_endpoints(app, "/author", PAGES, ACTIONS)


def test_navigation_links_authoring_for_trainers_only(client, auth, world):
    auth.login(world["users"]["manager"])
    assert "Soạn nội dung" not in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login(world["users"]["trainer"])
    assert "Soạn nội dung" in client.get("/").get_data(as_text=True)


# -- editing questions ------------------------------------------------------------------------------

def _form(client, url):
    """The editor's form fields as a browser would submit them (GET first)."""
    html = client.get(url).get_data(as_text=True)
    data = {"csrf_token": csrf_token(client, url)}
    for name, value in re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', html):
        if name not in ("csrf_token", "preview", "save", "publish", "submit"):
            data[name] = _unescape(value)
    checked: dict[str, list[str]] = {}
    for tag in re.findall(r'<input[^>]*type="checkbox"[^>]*>', html):
        name = re.search(r'name="([^"]+)"', tag).group(1)
        value = re.search(r'value="([^"]*)"', tag)
        data.pop(name, None)
        if re.search(r"\schecked\b", tag):  # a browser posts "y" for a bare box, else each checked value
            checked.setdefault(name, []).append(_unescape(value.group(1)) if value else "y")
    for name, values in checked.items():
        data[name] = values if len(values) > 1 else values[0]
    for name, value in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>\r?\n?(.*?)</textarea>', html, re.S):
        data[name] = _unescape(value)
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.findall(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', body)
        values = [a or b for a, b in chosen]
        if values:
            data[name] = values if len(values) > 1 else values[0]
    return data


def _unescape(text):
    import html
    return html.unescape(text)


@pytest.fixture
def trainer(client, auth, world):
    auth.login(world["users"]["trainer"])
    return world["users"]["trainer"]


def _current(slug):
    question = db.session.scalar(select(Question).where(Question.slug == slug))
    return db.session.scalar(question.current_version_select())


def test_the_form_round_trips_a_question_unchanged(client, trainer):
    for slug in ("q-benh-nhan", "q-benh-nhan-2", "q-tich-cuc"):
        data = _form(client, f"/author/questions/{slug}")
        response = client.post(f"/author/questions/{slug}", data={**data, "publish": "y"})
        assert response.status_code == 302, response.get_data(as_text=True)[:3000]
        assert _current(slug).version == 1, slug  # nothing changed: no new version


def test_publishing_a_changed_question_makes_a_new_version_for_the_next_attempt(client, auth, world, trainer):
    learner = world["users"]["learner"]
    final = db.session.scalar(select(Quiz).where(Quiz.counts_for_completion))
    old_attempt = learn.start_attempt(db.session, learner, final)
    db.session.commit()
    old_attempt_id = old_attempt.id
    learn.submit_attempt(db.session, old_attempt)
    db.session.commit()

    data = _form(client, "/author/questions/q-benh-nhan")
    data["text"] = "Bài đăng đã sửa: Ca bệnh mới ở tổ 5, tên là chị H., nhà cạnh chợ."
    response = client.post("/author/questions/q-benh-nhan", data={**data, "publish": "y"})
    assert response.status_code == 302
    current = _current("q-benh-nhan")
    assert current.version == 2 and current.created_by_id == trainer.id
    assert "Bài đăng đã sửa" in current.scenario["text"]

    auth.logout()
    auth.login(learner)
    # The fixture's final test draws every question, so both attempts hold q-benh-nhan.
    review = client.get(f"/attempts/{old_attempt_id}/review").get_data(as_text=True)
    assert "Nóng!!! Ca bệnh mới ở tổ 5" in review and "Bài đăng đã sửa" not in review
    new_attempt = learn.start_attempt(db.session, learner, final)
    db.session.commit()
    versions = {item.version.question.slug: item.version.version for item in new_attempt.questions}
    assert versions["q-benh-nhan"] == 2
    assert "Bài đăng đã sửa" in client.get(f"/attempts/{new_attempt.id}").get_data(as_text=True)
    old_versions = {item.version.question.slug: item.version.version
                    for item in db.session.get(Attempt, old_attempt_id).questions}
    assert old_versions["q-benh-nhan"] == 1
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "question.published"))
    assert audit.actor_id == trainer.id and audit.before["scenario"]["text"] != audit.after["scenario"]["text"]


def test_a_draft_does_not_reach_learners_until_published(client, auth, world, trainer):
    data = _form(client, "/author/questions/q-tich-cuc")
    data["prompt"] = "Câu hỏi nháp mới"
    assert client.post("/author/questions/q-tich-cuc", data={**data, "save": "y"}).status_code == 302
    assert db.session.scalar(select(ContentDraft).where(ContentDraft.slug == "q-tich-cuc")) is not None
    assert _current("q-tich-cuc").version == 1 and "nháp" not in _current("q-tich-cuc").prompt
    assert "có bản nháp" in client.get("/author/questions?status=draft").get_data(as_text=True)

    page = _form(client, "/author/questions/q-tich-cuc")
    assert client.post("/author/questions/q-tich-cuc/publish-draft",
                       data={"csrf_token": page["csrf_token"], "base": page["base"]}).status_code == 302
    assert _current("q-tich-cuc").prompt == "Câu hỏi nháp mới"
    assert db.session.scalar(select(ContentDraft)) is None


def _publish_copy(slug, of, trainer):
    """A new published question: a copy of another under a new slug (the fixture bank has three)."""
    from app.authoring import services

    item = {**question_item(of, _current(of)), "slug": slug}
    services.publish_question(db.session, None, item, trainer)
    db.session.commit()


def test_retiring_hides_from_new_attempts_and_keeps_history(client, auth, world, trainer):
    learner = world["users"]["learner"]
    final = db.session.scalar(select(Quiz).where(Quiz.counts_for_completion))
    attempt = learn.start_attempt(db.session, learner, final)
    learn.submit_attempt(db.session, attempt)
    db.session.commit()
    # The fixture's final test draws all three questions: retiring one would leave it short.
    page = client.get("/author/questions/q-benh-nhan").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/author/questions/q-benh-nhan/retire"[^>]*>', page).group(0)
    assert 'data-confirm="Ngừng dùng «' in form  # site.js asks before retiring
    token = csrf_token(client, "/author/questions/q-benh-nhan")
    html = client.post("/author/questions/q-benh-nhan/retire", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "không còn đủ câu hỏi để rút" in html
    assert _current("q-benh-nhan").question.status == "published"
    _publish_copy("q-benh-nhan-3", "q-benh-nhan", trainer)

    token = csrf_token(client, "/author/questions/q-benh-nhan")
    assert client.post("/author/questions/q-benh-nhan/retire", data={"csrf_token": token}).status_code == 302
    question = db.session.scalar(select(Question).where(Question.slug == "q-benh-nhan"))
    assert question.status == "retired"
    # What a new attempt draws from no longer holds it (the fixture bank is then too small to draw).
    candidates = learn._candidates(db.session, final)
    assert all(question.id not in pool for pool in candidates.values())
    assert db.session.scalar(select(func.count(QuestionVersion.id)).where(QuestionVersion.question_id == question.id)) == 1
    assert "Ngừng dùng" in client.get("/author/questions/q-benh-nhan/history").get_data(as_text=True)

    token = csrf_token(client, "/author/lessons/l01-mau")
    html = client.post("/author/lessons/l01-mau/retire", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    # A published quiz hangs on the lesson: exports would no longer load (quizzes.yaml names it).
    assert "«Kiểm tra nhanh» gắn với bài học này" in html
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "l01-mau"))
    assert lesson.status == "published"
    db.session.scalar(select(Quiz).where(Quiz.lesson_id == lesson.id)).status = "retired"
    db.session.commit()
    client.post("/author/lessons/l01-mau/retire", data={"csrf_token": token})
    assert lesson.status == "retired"
    auth.logout()
    auth.login(learner)
    assert client.get("/lessons/l01-mau").status_code == 404
    assert "Ba vi phạm thường gặp" not in client.get(f"/courses/{world['course'].slug}").get_data(as_text=True)


@pytest.mark.parametrize("change, field, message", [
    ({"citations-0-quote": "Một câu không hề có trong văn bản nguồn"}, "citations-0-quote", "không khớp nguyên văn"),
    ({"citations-0-source": "nguon-khong-co"}, "citations-0-source", None),
    ({"prompt": ""}, "prompt", "không được để trống"),
    ({"author": "", "text": ""}, "text", "không được để trống"),
    ({"choices-0-key": 'c" onmouseover="alert(1)'}, "choices-0-key", "Khóa chỉ gồm chữ thường"),
])
def test_invalid_question_shows_a_vietnamese_error_beside_the_field_and_saves_nothing(
        client, trainer, change, field, message):
    data = {**_form(client, "/author/questions/q-benh-nhan"), **change}
    audit_before = db.session.scalar(select(func.count(AuditLog.id)))
    for button in ("save", "publish"):
        html = client.post("/author/questions/q-benh-nhan", data={**data, button: "y"}).get_data(as_text=True)
        block = html[html.index(f'name="{field}"'):][:1500]
        assert "invalid-feedback" in block, block
        if message:
            assert message in block
    assert _current("q-benh-nhan").version == 1
    assert db.session.scalar(select(ContentDraft)) is None
    assert db.session.scalar(select(func.count(AuditLog.id))) == audit_before


def test_an_unknown_source_is_refused(client, trainer):
    data = {**_form(client, "/author/questions/q-benh-nhan")}
    # A select only offers known sources: forge the post as a hostile client would.
    data["citations-0-source"] = "nguon-bia-dat"
    html = client.post("/author/questions/q-benh-nhan", data={**data, "publish": "y"}).get_data(as_text=True)
    assert "Lựa chọn không hợp lệ" in html or "không có trong" in html
    assert _current("q-benh-nhan").version == 1


def test_a_new_question_is_checked_drafted_and_published(client, trainer):
    data = _form(client, "/author/questions/q-benh-nhan")
    data.update({"id": "q-moi-thu", "prompt": "Câu hỏi thử nghiệm?", "choices-0-text": "Có (thử nghiệm)"})
    data["base"] = _form(client, "/author/questions/new")["base"]
    html = client.post("/author/questions/new", data={**data, "id": "q-benh-nhan", "save": "y"}).get_data(as_text=True)
    assert "bị trùng" in html
    assert client.post("/author/questions/new", data={**data, "save": "y"}).status_code == 302
    assert db.session.scalar(select(Question).where(Question.slug == "q-moi-thu")) is None
    assert "q-moi-thu" in client.get("/author/").get_data(as_text=True)
    assert client.get("/author/questions/q-moi-thu").status_code == 200
    data["base"] = _form(client, "/author/questions/q-moi-thu")["base"]
    assert client.post("/author/questions/q-moi-thu", data={**data, "publish": "y"}).status_code == 302
    assert _current("q-moi-thu").version == 1


# -- injection ------------------------------------------------------------------------------------

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_script_in_scenario_text_is_neutralised_in_preview_and_for_learners(client, auth, world, trainer):
    data = _form(client, "/author/questions/q-benh-nhan")
    data["text"] = "Bài đăng " + XSS
    data["explanation"] = "Giải thích đủ dài. " + XSS
    html = client.post("/author/questions/q-benh-nhan", data={**data, "preview": "y"}).get_data(as_text=True)
    preview = html[html.index("question-preview"):html.index('id="source-viewer"')]
    assert "<script>alert" not in preview and "<img src=x" not in preview and "&lt;script&gt;" in preview
    assert client.post("/author/questions/q-benh-nhan", data={**data, "publish": "y"}).status_code == 302
    auth.logout()
    learner = world["users"]["learner"]
    auth.login(learner)
    quiz = db.session.scalar(select(Quiz).where(Quiz.counts_for_completion))
    attempt = learn.start_attempt(db.session, learner, quiz)
    db.session.commit()
    pages = [client.get(f"/attempts/{attempt.id}").get_data(as_text=True)]
    learn.submit_attempt(db.session, attempt)
    db.session.commit()
    pages.append(client.get(f"/attempts/{attempt.id}/review").get_data(as_text=True))
    for page in pages:
        assert "Bài đăng" in page and "<script>alert" not in page and "<img src=x" not in page
    auth.logout()
    auth.login(world["users"]["trainer"])
    history = client.get("/author/questions/q-benh-nhan/history").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in history and "<script>alert" not in history


def test_script_in_lesson_markdown_is_neutralised_in_preview_and_for_learners(client, auth, world, trainer):
    data = _form(client, "/author/lessons/l01-mau")
    data["body"] = data["body"] + "\n\nĐoạn mới " + XSS + "\n\n[bấm](javascript:alert(3))\n"
    html = client.post("/author/lessons/l01-mau", data={**data, "preview": "y"}).get_data(as_text=True)
    preview = html[html.index("lesson-preview"):html.index("</article>")]
    assert "Đoạn mới" in preview
    assert "<script>alert" not in preview and "<img" not in preview and 'href="javascript' not in preview
    assert client.post("/author/lessons/l01-mau", data={**data, "publish": "y"}).status_code == 302
    live = client.post("/author/preview", data={"csrf_token": csrf_token(client, "/author/lessons/l01-mau"),
                                               "body": data["body"]}).get_json()["html"]
    assert "Đoạn mới" in live and "<script" not in live and "<img" not in live and 'href="javascript' not in live
    assert "Nguồn [1]" in live
    assert client.post("/author/preview", data={"body": "x"}).status_code == 400  # no CSRF token
    auth.logout()
    auth.login(world["users"]["learner"])
    page = client.get("/lessons/l01-mau").get_data(as_text=True)
    assert "Đoạn mới" in page and "<script>alert" not in page and "<img" not in page and 'href="javascript' not in page


# -- lessons, history, audit ---------------------------------------------------------------------

def test_a_lesson_edit_is_checked_published_with_history_and_audit(client, trainer):
    data = _form(client, "/author/lessons/l01-mau")
    bad = {**data, "body": data["body"] + "\n> Câu bịa không có trong công văn.\n> — [cat-tuyen-quang-2021, đoạn 9]\n"}
    html = client.post("/author/lessons/l01-mau", data={**bad, "publish": "y"}).get_data(as_text=True)
    block = html[html.index('name="body"'):][:6000]
    assert "không khớp nguyên văn" in block and "Dòng" in block
    assert db.session.scalar(select(func.count(LessonRevision.id))) == 1  # the load's revision only

    good = {**data, "title": "Ba vi phạm thường gặp nhất", "body": data["body"] + "\nMột đoạn mới.\n"}
    assert client.post("/author/lessons/l01-mau", data={**good, "publish": "y"}).status_code == 302
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "l01-mau"))
    assert lesson.title == "Ba vi phạm thường gặp nhất" and "Một đoạn mới." in lesson.body_md
    history = client.get("/author/lessons/l01-mau/history").get_data(as_text=True)
    assert 'class="diff-add">+Một đoạn mới.' in history and "Lần sửa 2" in history
    assert 'class="diff-del">-title: &#34;Ba vi phạm thường gặp&#34;' in history or "diff-del" in history
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "lesson.published"))
    assert entry.actor_id == trainer.id and entry.before["meta"]["title"] == "Ba vi phạm thường gặp"
    assert entry.after["meta"]["title"] == "Ba vi phạm thường gặp nhất"


def test_a_lesson_loaded_before_history_existed_keeps_its_old_state(client, trainer):
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "l01-mau"))
    for revision in db.session.scalars(select(LessonRevision)):
        db.session.delete(revision)
    db.session.commit()
    data = _form(client, "/author/lessons/l01-mau")
    client.post("/author/lessons/l01-mau", data={**data, "minutes": "7", "publish": "y"})
    numbers = db.session.scalars(select(LessonRevision.number).where(LessonRevision.lesson_id == lesson.id)
                                 .order_by(LessonRevision.number)).all()
    assert numbers == [1, 2]
    assert "-minutes: 5" in client.get("/author/lessons/l01-mau/history").get_data(as_text=True)


def test_question_history_shows_the_differences(client, trainer):
    data = _form(client, "/author/questions/q-tich-cuc")
    data["explanation"] = "Giải thích đã được viết lại cho rõ. Chia sẻ tin chính thức là đúng."
    client.post("/author/questions/q-tich-cuc", data={**data, "publish": "y"})
    history = client.get("/author/questions/q-tich-cuc/history").get_data(as_text=True)
    assert "Phiên bản 2" in history and "diff-add" in history and "Giải thích đã được viết lại" in history
    assert "Xuất bản câu hỏi" in history


# -- files and database --------------------------------------------------------------------------

def test_export_then_load_changes_nothing_and_reexports_identically(app, tmp_path):
    content, quizzes = app.config["CONTENT_DIR"], app.config["QUIZZES_DIR"]
    result = check_content(content, quizzes)
    assert result.ok
    load_bundle(db.session, result.bundle)
    db.session.commit()
    first = tmp_path / "first"
    export_content(db.session, first / "content", first / "quizzes", copy_from=(content, quizzes))
    again = check_content(first / "content", first / "quizzes")
    assert again.ok, [str(e) for e in again.errors]
    report = load_bundle(db.session, again.bundle)
    assert not report.changed, report.as_dict()
    second = tmp_path / "second"
    export_content(db.session, second / "content", second / "quizzes", copy_from=(content, quizzes))
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    # Every version rebuilt from the database hashes like the file it came from.
    for question in db.session.scalars(select(Question)):
        version = db.session.scalar(question.current_version_select())
        assert question_hash(question_item(question.slug, version)) == version.content_hash


def test_export_command_and_the_files_status(app, runner, client, auth, world, fixture_content, tmp_path):
    content, quizzes = fixture_content
    app.config.update(CONTENT_DIR=str(content), QUIZZES_DIR=str(quizzes))
    auth.login(world["users"]["trainer"])
    assert "khớp với nội dung đã xuất bản" in client.get("/author/").get_data(as_text=True)
    data = _form(client, "/author/questions/q-tich-cuc")
    data["prompt"] = "Câu phát biểu đã sửa trên web."
    client.post("/author/questions/q-tich-cuc", data={**data, "publish": "y"})
    status = client.get("/author/").get_data(as_text=True)
    assert "<code>q-tich-cuc</code>: đã xuất bản trên web, chưa ghi ra tệp" in status
    result = runner.invoke(args=["content", "export", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Câu phát biểu đã sửa trên web." in (quizzes / "bank-mau.yaml").read_text(encoding="utf-8")
    assert "khớp với nội dung đã xuất bản" in client.get("/author/").get_data(as_text=True)
    # Someone edits a lesson's file on disk afterwards: the file is newer.
    lesson_file = content / "lessons" / "01-mau.md"
    lesson_file.write_text(lesson_file.read_text(encoding="utf-8") + "\nThêm trên đĩa.\n", encoding="utf-8")
    status = client.get("/author/").get_data(as_text=True)
    assert "<code>l01-mau</code>: tệp mới hơn bản đã xuất bản" in status
    result = runner.invoke(args=["content", "export", "--to", str(tmp_path / "ra")])
    assert result.exit_code == 0 and check_content(tmp_path / "ra" / "content", tmp_path / "ra" / "quizzes").ok


# -- lists ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/author/questions", "/author/questions?q=thu&status=published",
                                 "/author/lessons", "/author/lessons?q=bai"])
def test_lists_use_a_fixed_number_of_queries(client, trainer, count_queries, url):
    from app.content.services import new_question_version
    from app.models import Lesson as LessonModel, Topic

    def grow(n, start):
        sources = {s.slug: s for s in db.session.scalars(select(Source))}
        topics = {t.slug: t for t in db.session.scalars(select(Topic))}
        base = question_item("x", _current("q-benh-nhan"))
        course = db.session.scalar(select(LessonModel)).course
        for number in range(start, start + n):
            question = Question(slug=f"q-thu-{number}", latest_version=1)
            db.session.add(question)
            db.session.add(new_question_version(question, 1, {**base, "slug": question.slug}, sources, topics))
            db.session.add(LessonModel(slug=f"bai-thu-{number}", course=course, position=10 + number, title=f"Bài thử {number}",
                                       minutes=5, body_md="x", content_hash="x", search_text=f"bai-thu-{number} bai thu"))
            db.session.add(ContentDraft(kind="question", slug=f"q-thu-{number}", data={}))
        db.session.commit()

    grow(2, 0)
    with count_queries() as small:
        assert client.get(url).status_code == 200
    grow(20, 10)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert large.count == small.count, (small.count, large.count)


def test_search_ignores_diacritics(client, trainer):
    html = client.get("/author/questions?q=Ca+benh+moi").get_data(as_text=True)
    assert "q-benh-nhan" in html and "q-tich-cuc" not in html
    html = client.get("/author/lessons?q=ba+vi+pham").get_data(as_text=True)
    assert "l01-mau" in html


def test_publishing_refuses_a_topic_change_that_leaves_a_quiz_short(client, trainer):
    data = {**_form(client, "/author/questions/q-benh-nhan"), "topics": "tich-cuc"}
    html = client.post("/author/questions/q-benh-nhan", data={**data, "publish": "y"}).get_data(as_text=True)
    assert "«Kiểm tra nhanh» sẽ không còn đủ câu hỏi để rút" in html
    assert _current("q-benh-nhan").version == 1 and _current("q-benh-nhan").topic_slugs == ["du-lieu-benh-nhan"]
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "question.published")) == 0


def test_a_new_lesson_is_published_to_learners_and_exported(client, auth, world, trainer, tmp_path, app):
    data = {"csrf_token": csrf_token(client, "/author/lessons/new"), "id": "l02-thu", "course": "khoa-mau",
            "order": "1", "title": "Bài thử", "minutes": "3", "sources": "nd-15-2020",
            "body": "## Bài thử\r\n\r\nMức phạt [@nd-15-2020, Điều 101].\r\n", "publish": "y", "base": "-|-"}
    html = client.post("/author/lessons/new", data=data).get_data(as_text=True)
    assert "thứ tự 1 đã dùng cho bài «l01-mau»" in html
    assert client.post("/author/lessons/new", data={**data, "order": "2"}).status_code == 302
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "l02-thu"))
    assert lesson.body_md == "## Bài thử\n\nMức phạt [@nd-15-2020, Điều 101].\n"
    assert lesson.source_file == "content/lessons/02-l02-thu.md" and len(lesson.citations) == 1
    auth.logout()
    auth.login(world["users"]["learner"])
    assert "Bài thử" in client.get(f"/courses/{world['course'].slug}").get_data(as_text=True)
    target = tmp_path / "ra"
    export_content(db.session, target / "content", target / "quizzes",
                   copy_from=(app.config["CONTENT_DIR"], app.config["QUIZZES_DIR"]))
    assert (target / "content" / "lessons" / "02-l02-thu.md").read_text(encoding="utf-8").startswith(
        '---\nid: l02-thu\ncourse: khoa-mau\norder: 2\ntitle: "Bài thử"\n')


# -- review fixes ----------------------------------------------------------------------------------

def _publish_item(trainer, slug, of="q-benh-nhan", **changes):
    """A new published question copied from another, with some fields changed."""
    from app.authoring import services

    item = {**question_item(of, _current(of)), "slug": slug, **changes}
    services.publish_question(db.session, None, item, trainer)
    db.session.commit()


def test_a_question_with_more_citations_than_the_form_rows_is_edited_without_loss(client, trainer):
    citation = question_item("q-benh-nhan", _current("q-benh-nhan"))["citations"][0]
    _publish_item(trainer, "q-bon-trich-dan", citations=[{**citation, "location": f"Điều {n}"} for n in range(1, 5)])
    data = _form(client, "/author/questions/q-bon-trich-dan")
    assert client.post("/author/questions/q-bon-trich-dan", data={**data, "publish": "y"}).status_code == 302
    assert _current("q-bon-trich-dan").version == 1 and len(_current("q-bon-trich-dan").citations) == 4
    # A spare row takes a fifth citation.
    data.update({"citations-4-source": citation["source"], "citations-4-location": "Điều 5"})
    assert client.post("/author/questions/q-bon-trich-dan", data={**data, "publish": "y"}).status_code == 302
    assert [c.location for c in _current("q-bon-trich-dan").citations][-1] == "Điều 5"
    # Past the cap: a Vietnamese error, nothing dropped or saved.
    data.update({f"citations-{n}-location": f"Điều {n}" for n in range(5, 25)})
    html = client.post("/author/questions/q-bon-trich-dan", data={**data, "publish": "y"}).get_data(as_text=True)
    assert "Tối đa 20 trích dẫn" in html and _current("q-bon-trich-dan").version == 2


@pytest.mark.parametrize("change, field, message", [
    ({"reactions": "likes=²"}, "reactions", "phải là số nguyên không âm"),
    ({"reactions": "likes=99999999999999999999"}, "reactions", "phải là số nguyên không âm"),
    ({"citations-0-location": "Đ" * 256}, "citations-0-location", "tối đa 255"),
])
def test_malformed_question_input_is_a_vietnamese_error_not_a_500(client, trainer, change, field, message):
    _assert_refused_beside(client, "/author/questions/q-benh-nhan", change, field, message)
    assert _current("q-benh-nhan").version == 1


def _assert_refused_beside(client, url, change, field, message):
    """Publishing the editor's form with `change` shows `message` beside `field` (no 500)."""
    data = {**_form(client, url), **change}
    response = client.post(url, data={**data, "publish": "y"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    block = html[html.index(f'name="{field}"'):][:3000]
    assert "invalid-feedback" in block and message in block, block


@pytest.mark.parametrize("change, field, message", [
    ({"order": "99999999999999999999"}, "order", "từ 1 đến 999"),
    ({"title": "B" * 256}, "title", "tối đa 255"),
    ({"body": "Mức phạt [@nd-15-2020, " + "Đ" * 256 + "]."}, "body", "tối đa 255"),
])
def test_malformed_lesson_input_is_a_vietnamese_error_not_a_500(client, trainer, change, field, message):
    _assert_refused_beside(client, "/author/lessons/l01-mau", change, field, message)
    assert db.session.scalar(select(Lesson).where(Lesson.slug == "l01-mau")).title != "B" * 256


def test_a_stale_editor_page_is_refused_instead_of_overwriting_newer_work(client, trainer):
    stale = _form(client, "/author/questions/q-tich-cuc")
    fresh = {**stale, "prompt": "Bản của người thứ hai."}
    assert client.post("/author/questions/q-tich-cuc", data={**fresh, "publish": "y"}).status_code == 302
    assert _current("q-tich-cuc").version == 2
    for button in ("publish", "save"):
        html = client.post("/author/questions/q-tich-cuc",
                           data={**stale, "prompt": "Bản cũ.", button: "y"}).get_data(as_text=True)
        assert "đã được người khác thay đổi" in html, button
    assert _current("q-tich-cuc").prompt == "Bản của người thứ hai." and _current("q-tich-cuc").version == 2
    assert db.session.scalar(select(ContentDraft)) is None
    # A draft saved by someone else after this page was drawn is neither published nor dropped from it.
    page = _form(client, "/author/questions/q-tich-cuc")
    assert client.post("/author/questions/q-tich-cuc", data={**page, "prompt": "Nháp 1.", "save": "y"}).status_code == 302
    drawn = _form(client, "/author/questions/q-tich-cuc")
    assert client.post("/author/questions/q-tich-cuc", data={**drawn, "prompt": "Nháp 2.", "save": "y"}).status_code == 302
    for action in ("publish-draft", "discard-draft"):
        client.post(f"/author/questions/q-tich-cuc/{action}", data={"csrf_token": drawn["csrf_token"], "base": drawn["base"]})
        draft = db.session.scalar(select(ContentDraft))
        assert draft is not None and draft.data["prompt"] == "Nháp 2.", action
    assert _current("q-tich-cuc").version == 2
    # Publishing the current draft drops it with an audit record of its own.
    page = _form(client, "/author/questions/q-tich-cuc")
    client.post("/author/questions/q-tich-cuc/publish-draft", data={"csrf_token": page["csrf_token"], "base": page["base"]})
    assert _current("q-tich-cuc").prompt == "Nháp 2." and db.session.scalar(select(ContentDraft)) is None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "question.draft_dropped")).before["prompt"] == "Nháp 2."


def test_a_new_item_may_not_take_the_slug_of_another_trainers_draft(client, trainer):
    data = {**_form(client, "/author/questions/q-benh-nhan"), "id": "q-nhap-cua-nguoi-khac",
            "base": _form(client, "/author/questions/new")["base"]}
    assert client.post("/author/questions/new", data={**data, "save": "y"}).status_code == 302
    html = client.post("/author/questions/new", data={**data, "prompt": "Ghi đè?", "save": "y"}).get_data(as_text=True)
    assert "bị trùng" in html
    assert db.session.scalar(select(ContentDraft)).data["prompt"] != "Ghi đè?"


def test_export_refuses_files_that_would_not_load_back_and_writes_nothing(app, runner, world, tmp_path):
    # A lesson a quiz names, retired behind the services' back: quizzes.yaml would name a missing lesson.
    db.session.scalar(select(Lesson).where(Lesson.slug == "l01-mau")).status = "retired"
    db.session.commit()
    result = runner.invoke(args=["content", "export", "--to", str(tmp_path / "ra")])
    assert result.exit_code == 1 and "không qua được `flask content check`" in result.output
    assert not (tmp_path / "ra").exists()


def test_export_in_place_refuses_to_overwrite_work_not_loaded_unless_forced(app, runner, world):
    from pathlib import Path

    lesson_file = Path(app.config["CONTENT_DIR"]) / "lessons" / "01-mau.md"
    lesson_file.write_text(lesson_file.read_text(encoding="utf-8") + "\nThêm trên đĩa, chưa nạp.\n", encoding="utf-8")
    result = runner.invoke(args=["content", "export", "--yes"])
    assert result.exit_code == 1 and "chưa nạp vào cơ sở dữ liệu" in result.output and "l01-mau" in result.output
    assert "chưa nạp" in lesson_file.read_text(encoding="utf-8")
    result = runner.invoke(args=["content", "export", "--yes", "--force"])
    assert result.exit_code == 0, result.output
    assert "chưa nạp" not in lesson_file.read_text(encoding="utf-8")


def test_retiring_or_publishing_refuses_to_break_the_bank_minimums(client, trainer):
    from app.authoring import services

    # The fixture bank: three questions, one lawful (min_lawful_share 0.2, min_total 3).
    _publish_item(trainer, "q-benh-nhan-3")
    _publish_item(trainer, "q-benh-nhan-4")
    for quiz in db.session.scalars(select(Quiz)):
        quiz.status = "retired"  # the pools aside: only the bank rules are left to refuse
    lawful = db.session.scalar(select(Question).where(Question.slug == "q-tich-cuc"))
    assert _current("q-tich-cuc").verdict == "lawful"
    with pytest.raises(services.AuthoringError, match="dưới mức tối thiểu"):
        services.set_status(db.session, lawful, "retired", trainer)
    db.session.rollback()
    data = {**_form(client, "/author/questions/q-tich-cuc"), "verdict": "violation"}
    html = client.post("/author/questions/q-tich-cuc", data={**data, "publish": "y"}).get_data(as_text=True)
    assert "dưới mức tối thiểu" in html and _current("q-tich-cuc").verdict == "lawful"


def test_restore_checks_the_position_and_an_edit_keeps_an_item_retired(client, trainer):
    from app.authoring import services

    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "l01-mau"))
    db.session.scalar(select(Quiz).where(Quiz.lesson_id == lesson.id)).status = "retired"
    services.set_status(db.session, lesson, "retired", trainer)
    db.session.commit()
    data = {**_form(client, "/author/lessons/l01-mau"), "title": "Sửa khi đã ngừng dùng"}
    assert client.post("/author/lessons/l01-mau", data={**data, "publish": "y"}).status_code == 302
    assert lesson.status == "retired" and lesson.title == "Sửa khi đã ngừng dùng"
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "lesson.published"))
    assert audit.before["status"] == audit.after["status"] == "retired"
    # Another lesson takes its place; restoring would put two at position 1.
    new = {"csrf_token": data["csrf_token"], "base": "-|-", "id": "l01-thay", "course": "khoa-mau", "order": "1",
           "title": "Bài thay", "minutes": "3", "body": "Nội dung.", "publish": "y"}
    assert client.post("/author/lessons/new", data=new).status_code == 302
    html = client.post("/author/lessons/l01-mau/restore", data={"csrf_token": data["csrf_token"]},
                       follow_redirects=True).get_data(as_text=True)
    assert "thứ tự 1 đã dùng cho bài «l01-thay»" in html and lesson.status == "retired"
    question = db.session.scalar(select(Question).where(Question.slug == "q-benh-nhan"))
    _publish_item(trainer, "q-benh-nhan-3")
    services.set_status(db.session, question, "retired", trainer)
    db.session.commit()
    data = {**_form(client, "/author/questions/q-benh-nhan"), "prompt": "Sửa khi đã ngừng dùng?"}
    assert client.post("/author/questions/q-benh-nhan", data={**data, "publish": "y"}).status_code == 302
    assert question.status == "retired" and _current("q-benh-nhan").version == 2


def test_a_quiz_must_stay_drawable_for_every_learner_not_one_seeded_draw(client, trainer):
    # «Kiểm tra nhanh» draws 2 on du-lieu-benh-nhan, then q-tich-cuc: tagging q-tich-cuc with that
    # topic lets the first pool take it, and then the second has nothing left for some learners
    # (with more questions on the topic, one seeded draw alone would mostly miss it).
    for number in range(3, 9):
        _publish_item(trainer, f"q-benh-nhan-{number}", verdict="lawful")
    data = {**_form(client, "/author/questions/q-tich-cuc"), "topics": ["tich-cuc", "du-lieu-benh-nhan"]}
    html = client.post("/author/questions/q-tich-cuc", data={**data, "publish": "y"}).get_data(as_text=True)
    assert "«Kiểm tra nhanh» sẽ không còn đủ câu hỏi để rút" in html
    assert _current("q-tich-cuc").version == 1


def test_always_drawable_is_a_worst_case_over_overlapping_pools():
    from app.authoring.services import always_drawable

    assert always_drawable([({1, 2, 3}, 2), ({4}, 1)])
    assert not always_drawable([({1, 2, 3}, 2), ({3}, 1)])
    assert always_drawable([({1, 2, 3, 4}, 2), ({3, 4, 5}, 1)])
    assert not always_drawable([({1, 2}, 1), ({2, 3}, 1), ({1, 3}, 1)])
    assert always_drawable([({1, 2}, 1), ({2, 3}, 1), ({1, 3, 4}, 1)])
    assert not always_drawable([({1}, 2)])


def test_the_shipped_questions_with_four_citations_open_and_round_trip(app, client, auth, make_agency, make_user):
    content, quizzes = app.config["CONTENT_DIR"], app.config["QUIZZES_DIR"]
    result = check_content(content, quizzes)
    load_bundle(db.session, result.bundle)
    db.session.commit()
    auth.login(make_user(role="trainer", agency=make_agency()))
    for slug in ("q-a-006", "q-a-027", "q-c-035", "q-c-037"):
        assert len(result.bundle.questions[slug]["citations"]) > 3
        data = _form(client, f"/author/questions/{slug}")
        response = client.post(f"/author/questions/{slug}", data={**data, "publish": "y"})
        assert response.status_code == 302, slug
        assert _current(slug).version == 1 and len(_current(slug).citations) == len(
            result.bundle.questions[slug]["citations"]), slug
    # Multiple selects post in the list's order: topics and a lesson's sources keep theirs.
    revisions = db.session.scalar(select(func.count(LessonRevision.id)))
    for slug in ("q-a-027", *result.bundle.lessons):
        kind = "question" if slug.startswith("q-") else "lesson"
        data = _form(client, f"/author/{kind}s/{slug}")
        assert client.post(f"/author/{kind}s/{slug}", data={**data, "publish": "y"}).status_code == 302, slug
    assert db.session.scalar(select(func.count(LessonRevision.id))) == revisions
    assert _current("q-a-027").version == 1


@pytest.mark.postgres
def test_concurrent_publishes_number_distinct_versions(app, world):
    """Trainers publishing the same question at the same moment, on PostgreSQL: the row lock queues
    them, each gets the next version, none fails on the unique (question, version)."""
    import threading

    from app.authoring import services
    from app.models import User

    trainer_id = world["users"]["trainer"].id
    item = question_item("q-tich-cuc", _current("q-tich-cuc"))
    db.session.commit()
    barrier = threading.Barrier(3)
    errors = []

    def publish_in_thread(number):
        with app.app_context():
            question = db.session.scalar(select(Question).where(Question.slug == "q-tich-cuc"))
            question.latest_version  # loaded before the others publish: stale once they have
            barrier.wait()
            try:
                services.publish_question(db.session, question, {**item, "prompt": f"Bản {number}"},
                                          db.session.get(User, trainer_id))
                db.session.commit()
            except Exception as error:  # noqa: BLE001 (the test reports any failure)
                errors.append(error)
            db.session.remove()

    threads = [threading.Thread(target=publish_in_thread, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    db.session.expire_all()
    assert _current("q-tich-cuc").version == 4


# -- the editor's weight, its source viewer and topic picker -----------------------------------------

#: the question editor was 132 KB with five letters embedded and 20 empty citation rows
EDITOR_MAX_BYTES = 50_000


def test_the_question_editor_loads_source_texts_on_demand(client, trainer):
    page = client.get("/author/questions/q-benh-nhan")
    html = page.get_data(as_text=True)
    assert len(page.data) < EDITOR_MAX_BYTES, len(page.data)
    letter = db.session.scalar(select(Source).where(Source.slug == "cat-tuyen-quang-2021"))
    assert "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG" in letter.text
    assert "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG" not in html and "<pre" not in html
    # With the script: the picker fetches one letter's text, as escaped plain text to select from.
    assert 'data-url="/author/sources/cat-tuyen-quang-2021?partial=1"' in html
    fragment = client.get("/author/sources/cat-tuyen-quang-2021?partial=1").get_data(as_text=True)
    assert fragment.lstrip().startswith("<pre") and "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG" in fragment
    assert "<html" not in fragment
    # Without it: a link to each letter's own page.
    assert 'href="/author/sources/cat-tuyen-quang-2021"' in html
    own = client.get("/author/sources/cat-tuyen-quang-2021").get_data(as_text=True)
    assert "<h1>" in own and "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG" in own
    assert client.get("/author/sources/khong-co").status_code == 404
    # A legal document ships no text: nothing to quote, no link.
    assert client.get("/author/sources/nd-15-2020?partial=1").status_code == 404
    assert "/author/sources/nd-15-2020" not in html
    # The lesson editor shares the viewer.
    assert "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG" not in client.get("/author/lessons/l01-mau").get_data(as_text=True)


def test_the_editor_adds_two_spare_rows_not_rows_up_to_the_cap(client, trainer):
    html = client.get("/author/questions/q-benh-nhan").get_data(as_text=True)
    filled = len(_current("q-benh-nhan").citations)
    assert len(re.findall(r'name="citations-\d+-location"', html)) == max(3, filled + 2)
    assert len(re.findall(r'name="segments-\d+-key"', html)) == 10


def test_topics_are_checkboxes_in_a_fieldset_with_a_filter(client, trainer):
    html = client.get("/author/questions/q-benh-nhan").get_data(as_text=True)
    picker = re.search(r'<fieldset class="topic-picker[^"]*"[^>]*>(.*?)</fieldset>', html, re.S).group(1)
    assert "<legend" in picker and 'type="search"' in picker and '<label class="form-label small mb-0" for="topic-filter">' in picker
    boxes = re.findall(r'<input class="form-check-input" type="checkbox" id="(topics-\d+)" name="topics" value="([^"]+)"( checked)?>',
                       picker)
    assert {value for _, value, _ in boxes} == {"du-lieu-benh-nhan", "tich-cuc"}
    assert all(f'<label for="{box_id}">' in picker for box_id, _, _ in boxes)
    assert [value for _, value, checked in boxes if checked] == list(_current("q-benh-nhan").topic_slugs)
    assert "<select" not in picker


def test_no_page_tells_the_user_to_run_a_command():
    """Templates speak to people, not operators: never `flask …` or a shell command."""
    from pathlib import Path

    offenders = []
    for template in (Path(__file__).parent.parent / "app").rglob("*.html"):
        text = re.sub(r"\{#.*?#\}", "", template.read_text(encoding="utf-8"), flags=re.S)
        if re.search(r"\bflask [a-z]", text) or re.search(r"\b(make|pip|python) [a-z-]", text):
            offenders.append(template.name)
    assert offenders == []
