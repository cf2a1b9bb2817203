"""The content pipeline: every kind of error is reported with file, line and field; loads are atomic."""
import json

import pytest
from sqlalchemy import func, select

from app.content.checks import check_content
from app.content.services import load_bundle
from app.extensions import db
from app.models import (
    AuditLog,
    Citation,
    Lesson,
    Question,
    QuestionVersion,
    Quiz,
    Source,
    Topic,
    question_topic,
)
from support import ROOT


def _check(dirs):
    return check_content(*dirs)


def _messages(result):
    return [str(error) for error in result.errors]


def _replace(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not found in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _bank(dirs):
    return dirs[1] / "bank-mau.yaml"


def _lesson(dirs):
    return dirs[0] / "lessons" / "01-mau.md"


def test_fixture_content_is_clean(fixture_content):
    result = _check(fixture_content)
    assert result.ok, _messages(result)
    assert set(result.bundle.questions) == {"q-benh-nhan", "q-benh-nhan-2", "q-tich-cuc"}
    lesson = result.bundle.lessons["l01-mau"]
    assert [c["source"] for c in lesson["citations"]] == ["cat-tuyen-quang-2021", "nd-15-2020"]
    assert lesson["citations"][0]["quote"].startswith("Đăng tải, chia sẻ thông tin cá nhân")
    assert lesson["citations"][1]["quote"] is None


def test_shipped_curriculum_passes_the_check():
    result = check_content(ROOT / "content", ROOT / "quizzes")
    assert result.ok, "\n".join(_messages(result))


def test_shipped_letters_are_byte_for_byte_the_seeds():
    seeds = ROOT.parent / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.fail(f"{seeds} is missing: the seeds must sit beside the repository")
    for seed in seeds.glob("*.txt"):
        assert (ROOT / "content" / "sources" / seed.name).read_bytes() == seed.read_bytes(), seed.name


# -- one test per kind of error --------------------------------------------------------------

def test_yaml_syntax_error_names_file_and_line(fixture_content):
    _replace(_bank(fixture_content), "    difficulty: medium", "    difficulty: [medium")
    result = _check(fixture_content)
    assert any(e.file == "quizzes/bank-mau.yaml" and e.line and "cú pháp YAML" in e.message
               for e in result.errors), _messages(result)


def test_missing_required_field(fixture_content):
    _replace(_bank(fixture_content), "    prompt: \"Bài đăng này có vi phạm không?\"\n", "")
    result = _check(fixture_content)
    [error] = result.errors
    assert error.file == "quizzes/bank-mau.yaml"
    assert error.field == "questions[0]"
    assert error.line == 2
    assert "thiếu trường bắt buộc «prompt»" in error.message


def test_invalid_enum_value(fixture_content):
    _replace(_bank(fixture_content), "difficulty: easy", "difficulty: trivial")
    [error] = _check(fixture_content).errors
    assert error.field == "questions[0].difficulty"
    assert error.line == 4
    assert "trivial" in error.message


def test_unknown_field_is_reported(fixture_content):
    _replace(_bank(fixture_content), "    verdict: lawful", "    verdict: lawful\n    explantion: typo")
    [error] = _check(fixture_content).errors
    assert error.field == "questions[2].explantion"
    assert "không được hỗ trợ" in error.message


def test_duplicate_question_id(fixture_content):
    _replace(_bank(fixture_content), "id: q-benh-nhan-2", "id: q-benh-nhan")
    errors = _check(fixture_content).errors
    assert any("bị trùng" in e.message and e.field == "questions[1].id" and e.line == 23
               for e in errors), [str(e) for e in errors]


def test_duplicate_yaml_key(fixture_content):
    _replace(_bank(fixture_content), "    type: single\n", "    type: single\n    type: multiple\n")
    errors = _check(fixture_content).errors
    assert any(e.field == "questions[0].type" and "hai lần" in e.message for e in errors)


def test_single_choice_needs_exactly_one_correct(fixture_content):
    _replace(_bank(fixture_content), "- {key: b, text: \"Không: đây là cảnh báo cho bà con.\"}",
             "- {key: b, text: \"Không: đây là cảnh báo cho bà con.\", correct: true}")
    [error] = _check(fixture_content).errors
    assert error.field == "questions[0].choices"
    assert "đúng một đáp án đúng" in error.message


def test_unknown_source(fixture_content):
    _replace(_bank(fixture_content), "source: stttt-ha-tinh-2023", "source: so-khong-ton-tai")
    [error] = _check(fixture_content).errors
    assert error.field == "questions[2].citations[0].quote"
    assert "so-khong-ton-tai" in error.message


def test_quote_not_verbatim(fixture_content):
    _replace(_bank(fixture_content), "những tấm gương người tốt, việc tốt",
             "những tấm gương người tốt việc tốt và đẹp")
    [error] = _check(fixture_content).errors
    assert error.file == "quizzes/bank-mau.yaml"
    assert error.line == 53
    assert "không khớp nguyên văn" in error.message


def test_quote_normalises_whitespace_emphasis_and_typographic_quotes(fixture_content):
    # The letter writes “lấy cái đẹp dẹp cái xấu” with typographic quotes and a line break elsewhere.
    _replace(_bank(fixture_content), "source: stttt-ha-tinh-2023", "source: cat-tuyen-quang-2021")
    _replace(_bank(fixture_content), "quote: \"chia sẻ thông tin tích cực, những tấm gương người tốt, việc tốt\"",
             "quote: 'nhằm \"lấy cái   đẹp dẹp cái **xấu**\"'")
    result = _check(fixture_content)
    assert result.ok, _messages(result)


def test_quote_from_a_source_without_text_is_refused(fixture_content):
    _replace(_bank(fixture_content), "source: stttt-ha-tinh-2023", "source: nd-15-2020")
    [error] = _check(fixture_content).errors
    assert "không có văn bản đi kèm" in error.message


def test_lesson_quote_not_verbatim_names_the_body_line(fixture_content):
    _replace(_lesson(fixture_content), "của người bệnh Covid-19;", "của người bệnh Covid-19 và người nhà;")
    [error] = _check(fixture_content).errors
    assert error.file == "content/lessons/01-mau.md"
    assert error.line == 14
    assert "không khớp nguyên văn" in error.message


def test_lesson_citing_a_source_it_does_not_list(fixture_content):
    _replace(_lesson(fixture_content), "sources: [cat-tuyen-quang-2021, nd-15-2020]",
             "sources: [cat-tuyen-quang-2021]")
    [error] = _check(fixture_content).errors
    assert error.line == 17
    assert "chưa khai báo" in error.message


def test_lesson_without_front_matter(fixture_content):
    path = _lesson(fixture_content)
    path.write_text(path.read_text(encoding="utf-8").replace("---\n", "", 1), encoding="utf-8")
    error, consequence = _check(fixture_content).errors
    assert (error.file, error.line) == ("content/lessons/01-mau.md", 1)
    assert "phần đầu YAML" in error.message
    assert "l01-mau" in consequence.message and consequence.file == "quizzes/quizzes.yaml"


def test_scenario_naming_a_real_official(fixture_content):
    _replace(_bank(fixture_content), 'author: "Lò Văn Tính"', 'author: "Nguyen Trung Hieu"')
    [error] = _check(fixture_content).errors
    assert error.field == "questions[0].scenario.author"
    assert "Nguyễn Trung Hiếu" in error.message


def test_scenario_using_a_letters_phone_number(fixture_content):
    _replace(_bank(fixture_content), "Mn tránh xa nhé", "Gọi 0915 274 777 nhé")
    [error] = _check(fixture_content).errors
    assert "số điện thoại thật" in error.message


def test_dangling_references(fixture_content):
    quizzes = fixture_content[1] / "quizzes.yaml"
    _replace(quizzes, "lesson: l01-mau", "lesson: l99-khong-co")
    _replace(quizzes, "questions: [q-tich-cuc]", "questions: [q-khong-co]")
    _replace(_bank(fixture_content), "topics: [tich-cuc]", "topics: [chu-de-la]")
    messages = _messages(_check(fixture_content))
    assert any("l99-khong-co" in m and "quizzes.yaml" in m for m in messages), messages
    assert any("q-khong-co" in m for m in messages), messages
    assert any("chu-de-la" in m and "bank-mau.yaml" in m for m in messages), messages


def test_pool_larger_than_its_questions(fixture_content):
    _replace(fixture_content[1] / "quizzes.yaml", "count: 2", "count: 5")
    [error] = _check(fixture_content).errors
    assert error.field == "quizzes[0].pools[0].count"
    assert "ít hơn số cần rút" in error.message


def test_bank_below_its_minimums(fixture_content):
    _replace(fixture_content[1] / "topics.yaml", "min_total: 3", "min_total: 10")
    _replace(fixture_content[1] / "topics.yaml", "min_questions: 1, title: \"Thông tin người bệnh\"",
             "min_questions: 4, title: \"Thông tin người bệnh\"")
    _replace(fixture_content[1] / "topics.yaml", "min_lawful_share: 0.2", "min_lawful_share: 0.5")
    messages = _messages(_check(fixture_content))
    assert len(messages) == 3, messages
    assert any("ít hơn mức tối thiểu 10" in m for m in messages)
    assert any("du-lieu-benh-nhan" in m and "tối thiểu 4" in m for m in messages)
    assert any("không vi phạm" in m for m in messages)


def test_file_not_utf8(fixture_content):
    _bank(fixture_content).write_bytes("questions: []\n# Vi\u1ec7t".encode("utf-16"))
    messages = _messages(_check(fixture_content))
    assert any("bank-mau.yaml" in m and "UTF-8" in m for m in messages), messages


# -- loading ---------------------------------------------------------------------------------

def _run(runner, dirs, *args):
    return runner.invoke(args=["content", *args, "--content-dir", str(dirs[0]),
                               "--quizzes-dir", str(dirs[1])])


def _snapshot():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Source, Lesson, Citation, Question, QuestionVersion, Quiz, Topic, AuditLog)}


def test_load_creates_everything(app, runner, fixture_content):
    result = _run(runner, fixture_content, "load")
    assert result.exit_code == 0, result.output
    assert "câu hỏi: tạo mới 3" in result.output
    counts = _snapshot()
    assert counts["Question"] == 3 and counts["QuestionVersion"] == 3
    assert counts["Lesson"] == 1 and counts["Quiz"] == 2
    # Every entry of the shipped sources.yaml (the fixtures use it): 18 since the December 2026
    # update added Nghị định 211/2025 and Luật Bảo vệ dữ liệu cá nhân 91/2025.
    assert counts["Source"] == 18
    lesson = db.session.scalar(select(Lesson))
    assert [c.source.slug for c in lesson.citations] == ["cat-tuyen-quang-2021", "nd-15-2020"]
    letter = db.session.scalar(select(Source).where(Source.slug == "stttt-yen-bai-2021"))
    assert "Nhận diện thông tin vi phạm pháp luật" in letter.text
    quiz = db.session.scalar(select(Quiz).where(Quiz.slug == "kt-mau"))
    assert quiz.question_count == 3 and quiz.lesson == lesson
    assert {t.slug for t in quiz.pools[0].topics} == {"du-lieu-benh-nhan"}
    version = db.session.scalar(select(QuestionVersion).join(Question).where(Question.slug == "q-tich-cuc"))
    assert version.correct_keys == ["false"]
    assert version.citations[0].quote.startswith("chia sẻ thông tin tích cực")


def test_second_load_changes_nothing(app, runner, fixture_content):
    assert _run(runner, fixture_content, "load").exit_code == 0
    before = _snapshot()
    result = _run(runner, fixture_content, "load")
    assert result.exit_code == 0
    assert "Không có gì thay đổi" in result.output
    assert "câu hỏi: tạo mới 0, cập nhật 0, giữ nguyên 3" in result.output
    assert _snapshot() == before


def test_changed_question_gets_a_new_version_and_keeps_the_old(app, runner, fixture_content):
    assert _run(runner, fixture_content, "load").exit_code == 0
    _replace(_bank(fixture_content), "Mn tránh xa nhé", "Mọi người tránh xa nhé")
    result = _run(runner, fixture_content, "load")
    assert "câu hỏi: tạo mới 0, cập nhật 1, giữ nguyên 2" in result.output
    question = db.session.scalar(select(Question).where(Question.slug == "q-benh-nhan"))
    versions = question.versions
    assert [v.version for v in versions] == [1, 2] and question.latest_version == 2
    assert "Mn tránh xa" in versions[0].scenario["text"]
    assert "Mọi người tránh xa" in versions[1].scenario["text"]
    assert len(versions[0].citations) == 1 and len(versions[1].citations) == 1


def test_topics_follow_the_latest_version(app, runner, fixture_content):
    assert _run(runner, fixture_content, "load").exit_code == 0
    _replace(_bank(fixture_content), "topics: [tich-cuc]", "topics: [tich-cuc, du-lieu-benh-nhan]")
    assert _run(runner, fixture_content, "load").exit_code == 0
    rows = db.session.execute(
        select(Topic.slug).join(question_topic).join(Question).where(Question.slug == "q-tich-cuc")).scalars()
    assert set(rows) == {"tich-cuc", "du-lieu-benh-nhan"}


def test_removed_question_is_retired_not_deleted(app, runner, fixture_content):
    assert _run(runner, fixture_content, "load").exit_code == 0
    quizzes = fixture_content[1] / "quizzes.yaml"
    _replace(quizzes, "      - questions: [q-tich-cuc]\n        count: 1\n", "")
    _replace(quizzes, "count: 3", "count: 2")
    text = _bank(fixture_content).read_text(encoding="utf-8")
    _bank(fixture_content).write_text(text[: text.index("  - id: q-tich-cuc")], encoding="utf-8")
    _replace(fixture_content[1] / "topics.yaml", "min_questions: 1, title: \"Lan tỏa", "min_questions: 0, title: \"Lan tỏa")
    _replace(fixture_content[1] / "topics.yaml", "min_lawful_share: 0.2", "min_lawful_share: 0")
    _replace(fixture_content[1] / "topics.yaml", "min_total: 3", "min_total: 2")
    result = _run(runner, fixture_content, "load")
    assert result.exit_code == 0, result.output
    question = db.session.scalar(select(Question).where(Question.slug == "q-tich-cuc"))
    assert question.status == "retired"
    assert len(question.versions) == 1


def test_malformed_file_leaves_the_database_exactly_as_it_was(app, runner, fixture_content):
    assert _run(runner, fixture_content, "load").exit_code == 0
    before = _snapshot()
    texts_before = [v.scenario for v in db.session.scalars(select(QuestionVersion).order_by(QuestionVersion.id))]
    # One good change and one broken file: nothing at all may be applied.
    _replace(_bank(fixture_content), "Mn tránh xa nhé", "Thay đổi hợp lệ")
    _replace(fixture_content[1] / "quizzes.yaml", "pass_percent: 80", "pass_percent: 180")
    result = _run(runner, fixture_content, "load")
    assert result.exit_code == 1
    assert "quizzes/quizzes.yaml, dòng 7, trường «quizzes[0].pass_percent»" in result.output
    assert "cơ sở dữ liệu giữ nguyên" in result.output
    db.session.expire_all()
    assert _snapshot() == before
    assert [v.scenario for v in db.session.scalars(select(QuestionVersion).order_by(QuestionVersion.id))] == texts_before


def test_failure_while_applying_rolls_everything_back(app, fixture_content, monkeypatch):
    from app.content import services

    result = check_content(*fixture_content)
    assert result.ok

    def explode(self):
        raise RuntimeError("simulated failure after lessons were written")

    monkeypatch.setattr(services._Loader, "_quizzes", explode)
    with pytest.raises(RuntimeError):
        load_bundle(db.session, result.bundle)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Lesson)) == 0
    assert db.session.scalar(select(func.count()).select_from(Source)) == 0


def test_check_command_exit_codes(runner, fixture_content):
    ok = _run(runner, fixture_content, "check")
    assert ok.exit_code == 0 and "Nội dung hợp lệ" in ok.output
    _replace(_bank(fixture_content), "difficulty: easy", "difficulty: trivial")
    bad = _run(runner, fixture_content, "check")
    assert bad.exit_code == 1
    assert "quizzes/bank-mau.yaml, dòng 4, trường «questions[0].difficulty»" in bad.output


def test_stats_command_json(runner, fixture_content):
    result = _run(runner, fixture_content, "stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["questions"] == 3
    assert stats["per_type"] == {"single": 1, "select_parts": 1, "true_false": 1}
    assert stats["per_verdict"] == {"violation": 2, "lawful": 1}
    assert stats["per_topic"] == {"du-lieu-benh-nhan": 2, "tich-cuc": 1}
    assert stats["below_minimum"] == []


def test_stats_lists_topics_under_their_minimum(runner, fixture_content):
    _replace(fixture_content[1] / "topics.yaml", "min_questions: 1, title: \"Lan tỏa", "min_questions: 4, title: \"Lan tỏa")
    result = _run(runner, fixture_content, "stats")
    assert "tich-cuc" in result.output and "dưới mức tối thiểu" in result.output
    stats = json.loads(_run(runner, fixture_content, "stats", "--json").output)
    assert stats["below_minimum"] == [{"topic": "tich-cuc", "count": 1, "minimum": 4,
                                       "violations": 0, "min_violations": 0}]


def test_topic_below_its_minimum_of_violations(fixture_content):
    _replace(fixture_content[1] / "topics.yaml", "min_questions: 1, title: \"Thông tin người bệnh\"",
             "min_questions: 1, min_violations: 3, title: \"Thông tin người bệnh\"")
    [error] = _check(fixture_content).errors
    assert error.field == "topics.du-lieu-benh-nhan" and error.line == 5
    assert "2 tình huống vi phạm, ít hơn mức tối thiểu 3" in error.message


def test_loading_unchanged_items_refreshes_their_search_text_and_sources(fixture_course, fixture_content):
    """A database upgraded by 0007 (search text backfilled from the slug and prompt only) searches
    like a fresh one after the next load."""
    from app.content.services import lesson_search_text, question_search_text
    from app.models import Lesson, Question

    for row in [*db.session.scalars(select(Lesson)), *db.session.scalars(select(Question))]:
        row.search_text = "cu"
        if isinstance(row, Lesson):
            row.source_slugs = []
    db.session.commit()
    result = check_content(*fixture_content)
    report = load_bundle(db.session, result.bundle)
    db.session.commit()
    assert not report.changed
    for slug, item in result.bundle.lessons.items():
        lesson = db.session.scalar(select(Lesson).where(Lesson.slug == slug))
        assert lesson.search_text == lesson_search_text(item) and lesson.source_slugs == item["sources"]
    for slug, item in result.bundle.questions.items():
        question = db.session.scalar(select(Question).where(Question.slug == slug))
        assert question.search_text == question_search_text(item)


# -- December 2026: quotations, callouts, current law, key balance ------------------------------

CHECK_FIXTURES = ROOT / "tests" / "fixtures" / "checks"


def _add(dirs, name, where="lessons"):
    """Copy one of tests/fixtures/checks/ into the fixture curriculum."""
    target = dirs[0] / "lessons" if where == "lessons" else dirs[1]
    (target / name).write_text((CHECK_FIXTURES / name).read_text(encoding="utf-8"), encoding="utf-8")


def test_blockquote_without_attribution_is_refused(fixture_content):
    _add(fixture_content, "02-trich-dan-khong-nguon.md")
    result = _check(fixture_content)
    errors = [e for e in result.errors if e.file.endswith("02-trich-dan-khong-nguon.md")]
    # The paraphrase shaped as a quotation (line 14) is refused; the attributed quotation is not.
    assert [e.line for e in errors] == [14], _messages(result)
    assert "> — [mã-nguồn, vị trí]" in errors[0].message and "::: ghi-nho" in errors[0].message


def test_attributed_quotation_not_verbatim_is_refused(fixture_content):
    _replace(_lesson(fixture_content), "của người bệnh Covid-19;", "của người bệnh Covid-19 và người nhà;")
    result = _check(fixture_content)
    assert any("không khớp nguyên văn" in e.message and e.file.endswith("01-mau.md")
               for e in result.errors), _messages(result)


def test_callouts_and_example_posts_pass_and_render_as_their_own_cards(app, fixture_content):
    from app.learn.rendering import render_with_containers

    _add(fixture_content, "04-khoi.md")
    result = _check(fixture_content)
    assert result.ok, _messages(result)
    body = result.bundle.lessons["l04-khoi"]["body_md"]
    with app.test_request_context():
        html = str(render_with_containers(body + "\n::: vi-du\n<script>alert(1)</script> *mẫu*\n:::\n"))
    assert "<blockquote" not in html
    assert '<aside class="lesson-callout lesson-callout-ghi-nho" aria-label="Ghi nhớ">' in html
    assert 'class="post-card post-zalo post-kind-group_message"' in html and "Tổ dân phố 9" in html
    assert "mn oi mai cat dien ca ngay nha" in html and "là hư cấu" in html
    assert "<script>" not in html and "<em>mẫu</em>" in html


@pytest.mark.parametrize("body, expected", [
    ("::: canh-bao\nNội dung.\n:::\n", "loại khối «canh-bao» không được hỗ trợ"),
    ("::: ghi-nho\nKhông đóng khối.\n", "chưa được đóng"),
    ("::: ghi-nho\n:::\n", "không có nội dung"),
    ("::: ghi-nho\n::: luu-y\nLồng.\n:::\n", "không được lồng"),
    ("::: bai-dang\nauthor: \"Lục Thị Mai\"\ntext: \"Không có nền tảng\"\n:::\n", "«platform»"),
    ("::: bai-dang\nplatform: zalo\ntext: \"gọi 0915.274.777 nhé\"\n:::\n", "số điện thoại thật"),
])
def test_container_mistakes_are_refused(fixture_content, body, expected):
    path = _lesson(fixture_content)
    path.write_text(path.read_text(encoding="utf-8") + "\n" + body, encoding="utf-8")
    result = _check(fixture_content)
    assert any(expected in e.message and e.file.endswith("01-mau.md") for e in result.errors), \
        _messages(result)


def test_superseded_wording_and_real_places_are_refused_in_lessons(fixture_content):
    _add(fixture_content, "03-luat-cu.md")
    result = _check(fixture_content)
    found = {(e.line, e.message.split(":")[0]) for e in result.errors if e.file.endswith("03-luat-cu.md")}
    messages = " | ".join(e.message for e in result.errors)
    assert "viết «đã thay thế», không viết «sẽ thay thế»" in messages           # line 12
    assert "nêu cả Nghị định 211/2025/NĐ-CP" in messages                       # line 14
    assert "địa danh thật «Đồng Tâm»" in messages                               # line 16
    assert {line for line, _ in found} == {12, 14, 16}, found


@pytest.mark.parametrize("explanation, expected", [
    ("Luật An ninh mạng 2018 sẽ được thay bằng Luật An ninh mạng 2025.", "«sẽ thay thế»"),
    ("Luật An ninh mạng 2025 (116/2025/QH15, cần đối chiếu văn bản gốc).", "đã được xác nhận"),
    ("Nghị định 15/2020 (đã sửa đổi bởi Nghị định 14/2022/NĐ-CP) phạt việc này.", "211/2025"),
    ("Từ năm 2026 có thể có quy định xử phạt mới từ năm 2026.", "không có nghị định xử phạt mới"),
])
def test_superseded_wording_is_refused_in_questions(fixture_content, explanation, expected):
    _replace(_bank(fixture_content),
             '    explanation: "Bài đăng nêu tên, tuổi và nơi ở của người bệnh.',
             f'    explanation: "{explanation} Bài đăng nêu tên, tuổi và nơi ở của người bệnh.')
    result = _check(fixture_content)
    assert any(expected in e.message and e.field.endswith("explanation") for e in result.errors), \
        _messages(result)


def test_a_question_citing_article_101_needs_the_currency_note(fixture_content):
    cite = '      - source: nd-15-2020\n        location: "Điều 101 khoản 1"\n'
    _replace(_bank(fixture_content), '    citations:\n      - source: cat-tuyen-quang-2021\n        location: "đoạn 1, hành vi (1)"\n',
             '    citations:\n' + cite + '      - source: cat-tuyen-quang-2021\n        location: "đoạn 1, hành vi (1)"\n')
    result = _check(fixture_content)
    assert any("cần đối chiếu văn bản hiện hành" in e.message for e in result.errors), _messages(result)
    _replace(_bank(fixture_content), "Công an tỉnh Tuyên Quang nêu đây là hành vi vi phạm chủ yếu.",
             "Công an tỉnh Tuyên Quang nêu đây là hành vi vi phạm chủ yếu. Mức phạt có thể đã thay đổi; "
             "cần đối chiếu văn bản hiện hành.")
    assert _check(fixture_content).ok, _messages(_check(fixture_content))


def test_skewed_key_distribution_is_refused(fixture_content):
    _add(fixture_content, "bank-lech-khoa.yaml", where="quizzes")
    result = _check(fixture_content)
    messages = [e.message for e in result.errors if e.field == "bank"]
    assert any("đáp án «a» đúng ở 13/13 câu" in m for m in messages), messages
    assert any("đáp án «d» chỉ đúng ở 0 câu" in m for m in messages), messages
    assert any("tập đáp án đúng {a, b} lặp lại ở 10/10 câu" in m for m in messages), messages
    assert any("11/11 câu có đáp án «Sai»" in m for m in messages), messages


def test_the_shipped_bank_cannot_be_guessed_by_a_fixed_pattern():
    """Issue 16 §2: always `a`, always `false`, always the most common correct set score no better
    than chance (within the margins of key_balance_errors) on the shipped bank."""
    from collections import Counter

    from app.content.checks import key_balance_errors

    questions = list(check_content(ROOT / "content", ROOT / "quizzes").bundle.questions.values())
    assert key_balance_errors(questions) == []
    single = [q for q in questions if q["type"] == "single"]
    chance = sum(1 / len(q["choices"]) for q in single) / len(single)
    for key in "abcd":
        assert sum(q["correct_keys"] == [key] for q in single) / len(single) <= chance + 0.10, key
    true_false = [q for q in questions if q["type"] == "true_false"]
    assert 0.35 <= sum(q["correct_keys"] == ["false"] for q in true_false) / len(true_false) <= 0.65
    multiple = [q for q in questions if q["type"] == "multiple"]
    assert Counter(tuple(q["correct_keys"]) for q in multiple).most_common(1)[0][1] / len(multiple) <= 0.25
