"""The benchmark dataset: a province of agencies and staff with progress, attempts and completions.

The curriculum goes through the app's own loader so courses, quizzes and question versions are
real; everything else is written in bulk straight through the driver (COPY on PostgreSQL,
executemany on SQLite) with ids computed here, never as ORM objects one by one.

At scale 1: 60,000 staff in 1,500 agencies on four levels, 3 courses (the real one and two copies),
about 1,000,000 lesson-progress rows, 250,000 attempts with every drawn question stored
(about 2,400,000 attempt-question rows), 69,000 completions, and the last activity per person and
course where the schema keeps it (course_activity).
"""
from __future__ import annotations

import json
import random
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import click
from flask import current_app
from sqlalchemy import select, text

from app.auth.services import hash_password
from app.content.checks import check_content
from app.content.services import load_bundle
from app.content.text import strip_diacritics
from app.demo.cli import FAMILY, GIVEN_F, GIVEN_M, MIDDLE_F, MIDDLE_M
from app.extensions import db
from app.learn.grading import percent, score_answer
from app.learn.services import COMMITMENT_TEXT, PRACTICE_PASS_PERCENT, draw_versions
from app.models import Course, Lesson, QuestionVersion, Quiz, QuizPool
from app.tracking import progress
from app.tracking.tallies import rebuild_completion_tallies, rebuild_tallies

BASE_STAFF = 60_000
BASE_AGENCIES = 1_500
#: agencies on depth 1 and 2 at scale 1; all the others are on depth 3 (the root is depth 0)
BASE_DEPTH_1, BASE_DEPTH_2 = 40, 320
#: relative number of staff placed in one agency of each depth
STAFF_WEIGHT_BY_DEPTH = {0: 1, 1: 4, 2: 10, 3: 20}
COURSE_COUNT = 3
#: per course: the share of people who completed it, and of people part way through
COMPLETED_SHARE = (0.55, 0.40, 0.20)
IN_PROGRESS_SHARE = (0.25, 0.30, 0.25)
#: per lesson read, the chance its lesson check was taken (tuned for ~250,000 attempts at scale 1)
LESSON_CHECK_CHANCE = 0.155
FAILED_FINAL_CHANCE = 0.3
PRACTICE_CHANCE = 0.05
PRACTICE_SIZE = 10
OPEN_ATTEMPT_CHANCE = 0.03
INACTIVE_SHARE = 0.01
#: every fourth agency of depth 1 has an extra assignment already past due: its stragglers are overdue
OVERDUE_EVERY = 4
DRAWS_PER_QUIZ = 24
BATCH_USERS = 2_000
PASSWORD = "bench-mat-khau-2026"
CYCLE_DAYS = 120
WRONG_CHANCE_BY_DIFFICULTY = {"easy": 0.08, "medium": 0.2, "hard": 0.35}
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

COLUMNS = {
    "agency": ("id", "code", "name", "search_name", "kind", "parent_id", "path", "depth", "is_active", "created_at"),
    "user": ("id", "username", "email", "full_name", "search_name", "employee_code", "agency_id",
             "password_hash", "is_active", "is_trainer", "is_admin", "created_at"),
    "manager_scope": ("id", "user_id", "agency_id", "created_at"),
    "assignment": ("id", "course_id", "agency_id", "starts_at", "due_at", "validity_months",
                   "recertify_days", "is_active", "created_at"),
    "lesson_progress": ("id", "user_id", "lesson_id", "started_at", "last_seen_at", "completed_at"),
    "attempt": ("id", "user_id", "course_id", "quiz_id", "number", "status", "started_at", "deadline_at",
                "submitted_at", "expired", "score", "score_percent", "passed", "pass_percent"),
    "attempt_question": ("id", "attempt_id", "position", "question_version_id", "choice_order", "answer",
                         "answered_at", "score"),
    "course_completion": ("id", "user_id", "course_id", "agency_id", "completed_at", "commitment_text",
                          "commitment_ip", "commitment_user_agent", "certificate_code", "final_attempt_id"),
    #: the last activity per learner and course, where the schema keeps it (filled only if the table exists)
    "course_activity": ("user_id", "course_id", "last_activity_at"),
}


@dataclass
class Dataset:
    """What the measurements need to know about the generated data."""

    root_id: int
    mid_id: int
    course_slug: str
    root_manager: str
    mid_manager: str
    password: str
    root_staff: int
    mid_staff: int
    counts: dict[str, int] = field(default_factory=dict)
    generate_s: float = 0.0


# -- writing rows in bulk --------------------------------------------------------------------------

class SqliteWriter:
    """executemany on the raw sqlite3 connection; datetimes as SQLAlchemy stores them (naive UTC)."""

    def __init__(self, engine):
        self.raw = engine.raw_connection()
        self.cursor = self.raw.driver_connection.cursor()
        self.cursor.execute("PRAGMA synchronous = OFF")
        self.cursor.execute("PRAGMA journal_mode = MEMORY")

    @staticmethod
    def stamp(moment: datetime | None):
        return None if moment is None else f"{moment:%Y-%m-%d %H:%M:%S.%f}"

    def write(self, table: str, rows: list[tuple]) -> None:
        columns = COLUMNS[table]
        self.cursor.executemany(
            f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})', rows)

    def commit(self) -> None:
        self.raw.commit()

    def wait(self) -> None:
        """Every batch is written when `commit` returns (one file, one writer)."""

    def finish(self) -> None:
        # No ANALYZE: the app never runs it on SQLite (at scale 1 it changes no timing beyond noise).
        self.raw.commit()
        self.cursor.execute("PRAGMA synchronous = FULL")
        self.cursor.execute("PRAGMA journal_mode = DELETE")
        self.raw.close()


class PostgresWriter:
    """COPY … FROM STDIN through psycopg 3; aware datetimes are passed as they are.

    A batch is loaded by a thread of its own while the caller generates the next one: psycopg waits
    for the server without holding the GIL, so generating (Python, one core) and loading
    (PostgreSQL, the other) overlap instead of taking turns. At scale 10 they take about as long as
    each other, so this nearly halves the time spent writing people. One batch at most is in flight
    (memory stays bounded), batches load in order on one connection (the foreign keys hold), and a
    failed load is raised by the next `commit` or `wait`.
    """

    def __init__(self, engine):
        self.raw = engine.raw_connection()
        self.connection = self.raw.driver_connection
        self.pending: list[tuple[str, list[tuple]]] = []
        self.loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-copy")
        self.loading: Future | None = None

    @staticmethod
    def stamp(moment: datetime | None):
        return moment

    def write(self, table: str, rows: list[tuple]) -> None:
        self.pending.append((table, rows))

    def commit(self) -> None:
        """Hand what was written since the last commit to the loading thread (after the batch before)."""
        self.wait()
        batch, self.pending = self.pending, []
        self.loading = self.loader.submit(self._load, batch)

    def wait(self) -> None:
        """Until every batch handed over is loaded and committed."""
        if self.loading is not None:
            loading, self.loading = self.loading, None
            loading.result()

    def _load(self, batch: list[tuple[str, list[tuple]]]) -> None:
        with self.connection.cursor() as cursor:
            for table, rows in batch:
                with cursor.copy(f'COPY "{table}" ({", ".join(COLUMNS[table])}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
        self.connection.commit()

    def finish(self) -> None:
        self.wait()
        self.loader.shutdown()
        with self.connection.cursor() as cursor:
            for table in (name for name, columns in COLUMNS.items() if columns[0] == "id"):
                cursor.execute(f"""SELECT setval(pg_get_serial_sequence('"{table}"', 'id'),
                                   (SELECT coalesce(max(id), 1) FROM "{table}"))""")
        self.connection.commit()
        self.connection.autocommit = True
        # What autovacuum would do shortly after a bulk load: statistics and the visibility map.
        self.connection.execute("VACUUM ANALYZE")
        self.connection.autocommit = False
        self.raw.close()


# -- the curriculum --------------------------------------------------------------------------------

@dataclass
class QuizInfo:
    id: int
    kind: str
    lesson_id: int | None
    pass_percent: int
    time_limit_minutes: int | None
    draws: list[list[int]]


@dataclass
class CourseInfo:
    id: int
    slug: str
    lesson_ids: list[int]
    lesson_minutes: list[int]
    final: QuizInfo
    checks: dict[int, QuizInfo]
    #: every version a quiz of the course can draw, for practice attempts
    version_ids: list[int]


@dataclass
class VersionInfo:
    orders: list[str]
    correct: str
    wrong: str
    wrong_score: float
    wrong_chance: float


def load_curriculum() -> None:
    """The real curriculum, checked and loaded exactly as `flask content load` does."""
    result = check_content(current_app.config["CONTENT_DIR"], current_app.config["QUIZZES_DIR"])
    if not result.ok:
        raise click.ClickException(f"content has {len(result.errors)} errors: run `flask content check`")
    load_bundle(db.session, result.bundle)
    db.session.commit()


def copy_course(course: Course, number: int) -> None:
    """A copy of a course with its lessons and quizzes; the copies draw from the same question bank."""
    session = db.session
    twin = Course(slug=f"{course.slug}-{number}", title=f"{course.title} (khóa {number}, dữ liệu đo)",
                  summary=course.summary, status="published", content_hash=course.content_hash)
    session.add(twin)
    lessons = {}
    for lesson in course.lessons:
        lessons[lesson.id] = Lesson(
            slug=f"{lesson.slug}-{number}", course=twin, position=lesson.position, title=lesson.title,
            summary=lesson.summary, minutes=lesson.minutes, body_md=lesson.body_md, status=lesson.status,
            content_hash=lesson.content_hash)
        session.add(lessons[lesson.id])
    for quiz in session.scalars(select(Quiz).where(Quiz.course_id == course.id)):
        session.add(Quiz(
            slug=f"{quiz.slug}-{number}", course=twin, lesson=lessons.get(quiz.lesson_id), title=quiz.title,
            kind=quiz.kind, pass_percent=quiz.pass_percent, time_limit_minutes=quiz.time_limit_minutes,
            max_attempts=quiz.max_attempts, counts_for_completion=quiz.counts_for_completion,
            status=quiz.status, content_hash=quiz.content_hash,
            pools=[QuizPool(position=pool.position, draw_count=pool.draw_count, topics=list(pool.topics),
                            questions=list(pool.questions)) for pool in quiz.pools]))
    session.flush()


def curriculum_info(rng: random.Random) -> tuple[list[CourseInfo], dict[int, VersionInfo]]:
    """Courses, lessons and pre-drawn question sets, drawn by the app's own `draw_versions`."""
    session = db.session
    courses = []
    for course in session.scalars(select(Course).where(Course.status == "published").order_by(Course.id)):
        lessons = [lesson for lesson in course.lessons if lesson.status == "published"]
        quizzes = {}
        published = select(Quiz).where(Quiz.course_id == course.id, Quiz.status == "published")
        for quiz in session.scalars(published):
            quizzes[quiz.id] = QuizInfo(quiz.id, quiz.kind, quiz.lesson_id, quiz.pass_percent,
                                        quiz.time_limit_minutes,
                                        [draw_versions(session, quiz, rng) for _ in range(DRAWS_PER_QUIZ)])
        final = next(q for q in quizzes.values() if q.kind == "final")
        checks = {q.lesson_id: q for q in quizzes.values() if q.kind == "lesson_check"}
        version_ids = sorted({v for q in quizzes.values() for draw in q.draws for v in draw})
        courses.append(CourseInfo(course.id, course.slug, [lesson.id for lesson in lessons],
                                  [lesson.minutes for lesson in lessons], final, checks, version_ids))
    versions = {}
    for version in session.scalars(select(QuestionVersion)):
        keys = [choice["key"] for choice in version.choices]
        orders = []
        for _ in range(6):
            order = list(keys)
            if version.type in ("single", "multiple"):
                rng.shuffle(order)
            orders.append(json.dumps(order))
        wrong = _wrong_answer(version.type, keys, version.correct_keys)
        wrong_score = score_answer(version.type, version.correct_keys, wrong) if version.correct_keys else 1.0
        chance = WRONG_CHANCE_BY_DIFFICULTY[version.difficulty] * rng.uniform(0.5, 1.8)
        versions[version.id] = VersionInfo(orders, json.dumps(version.correct_keys), json.dumps(wrong),
                                           wrong_score, chance if wrong_score < 1 else 0.0)
    return courses, versions


def _wrong_answer(question_type: str, keys: list[str], correct: list[str]) -> list[str]:
    """A plausible wrong answer: a wrong choice, or one correct part missed."""
    others = [key for key in keys if key not in correct]
    if question_type in ("single", "true_false"):
        return others[:1]
    if others:
        return correct[:-1] + others[:1]
    return correct[:-1]


# -- the agency tree and the staff ------------------------------------------------------------------

def agency_tree(scale: float) -> list[tuple[int, int | None, int, str]]:
    """(id, parent id, depth, number) of every agency, parents first; numbers read "3.2.1" down the tree."""
    total = max(4, round(BASE_AGENCIES * scale))
    depth_1 = max(1, round(BASE_DEPTH_1 * scale))
    depth_2 = max(depth_1, round(BASE_DEPTH_2 * scale))
    depth_3 = max(depth_2, total - 1 - depth_1 - depth_2)
    tree = [(1, None, 0, "")]
    for count, depth in ((depth_1, 1), (depth_2, 2), (depth_3, 3)):
        parents = [node for node in tree if node[2] == depth - 1]
        children_of: dict[int, int] = {}
        for index in range(count):
            parent = parents[index % len(parents)]
            children_of[parent[0]] = children_of.get(parent[0], 0) + 1
            label = f"{parent[3]}.{children_of[parent[0]]}".lstrip(".")
            tree.append((len(tree) + 1, parent[0], depth, label))
    return tree


def _agency_name(depth: int, number: str) -> tuple[str, str]:
    """Name and kind: an invented province, departments and communes, their offices and teams."""
    if depth == 0:
        return "Tỉnh Bình Sơn (dữ liệu đo hiệu năng)", "province"
    if depth == 1:
        if int(number) % 2:
            return f"Sở số {int(number):02d}", "department"
        return f"UBND xã số {int(number):02d}", "commune"
    if depth == 2:
        return f"Phòng {number}", "unit"
    return f"Tổ {number}", "unit"


def _random_name(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE_F)} {rng.choice(GIVEN_F)}"
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE_M)} {rng.choice(GIVEN_M)}"


def _certificate_code(number: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, len(CODE_ALPHABET))
        digits.append(CODE_ALPHABET[rest])
    return "BX" + "".join(reversed(digits)).rjust(8, CODE_ALPHABET[0])


# -- progress, attempts and completions ---------------------------------------------------------------

class _Rows:
    """The rows of one batch of people, table by table, with ids continuing across batches."""

    def __init__(self, stamp, rng: random.Random, versions: dict[int, VersionInfo], tables: list[str]):
        self.stamp = stamp
        self.rng = rng
        self.versions = versions
        self.next_id = {table: 1 for table in tables}
        self.tables: dict[str, list[tuple]] = {table: [] for table in tables}
        self.counts = {table: 0 for table in tables}

    def add(self, table: str, *values) -> int | None:
        """A row; the id comes first and is given here, except in tables without one."""
        if table not in self.tables:
            return None
        row_id = None
        if COLUMNS[table][0] == "id":
            row_id = self.next_id[table]
            self.next_id[table] += 1
            values = (row_id, *values)
        self.tables[table].append(values)
        self.counts[table] += 1
        return row_id

    def flush(self, writer) -> None:
        for table in self.tables:  # in the order of the foreign keys
            if self.tables[table]:
                writer.write(table, self.tables[table])
                self.tables[table] = []

    def attempt(self, user_id: int, course: CourseInfo, quiz: QuizInfo | None, number: int,
                started: datetime, *, must_pass: bool | None = None,
                is_open: bool = False) -> tuple[int, datetime]:
        """An attempt with its questions; returns its id and when it was submitted (or last answered)."""
        rng, stamp = self.rng, self.stamp
        if quiz is None:
            drawn = rng.sample(course.version_ids, PRACTICE_SIZE)
            pass_percent, limit = PRACTICE_PASS_PERCENT, None
        else:
            drawn = rng.choice(quiz.draws)
            pass_percent, limit = quiz.pass_percent, quiz.time_limit_minutes
        infos = [self.versions[version_id] for version_id in drawn]
        wrong = [rng.random() < info.wrong_chance for info in infos]
        scores = [info.wrong_score if is_wrong else 1.0 for info, is_wrong in zip(infos, wrong)]
        if must_pass is not None:
            order = list(range(len(drawn)))
            rng.shuffle(order)
            for index in order:  # turn answers right (or wrong) until the outcome is the one wanted
                if (percent(sum(scores), len(scores)) >= pass_percent) == must_pass:
                    break
                wrong[index] = not must_pass
                scores[index] = infos[index].wrong_score if wrong[index] else 1.0
        answered_count = rng.randint(0, len(drawn) - 1) if is_open else len(drawn)
        attempt_id = self.next_id["attempt"]
        moment = started
        for position, (version_id, info, is_wrong, score) in enumerate(zip(drawn, infos, wrong, scores), 1):
            answered = position <= answered_count
            if answered:
                moment = started + timedelta(seconds=25 * position + rng.randint(0, 20))
            answer = (info.wrong if is_wrong else info.correct) if answered else None
            graded = score if answered and not is_open else None  # an open attempt is graded at submission
            self.add("attempt_question", attempt_id, position, version_id, rng.choice(info.orders), answer,
                     stamp(moment) if answered else None, graded)
        deadline = started + timedelta(minutes=limit) if limit else None
        if is_open:
            self.add("attempt", user_id, course.id, quiz.id if quiz else None, number, "in_progress",
                     stamp(started), stamp(deadline), None, False, None, None, None, pass_percent)
            return attempt_id, moment
        submitted = moment + timedelta(seconds=rng.randint(5, 60))
        points = sum(scores)
        score_percent = percent(points, len(scores))
        self.add("attempt", user_id, course.id, quiz.id if quiz else None, number, "submitted",
                 stamp(started), stamp(deadline), stamp(submitted), False, points, score_percent,
                 score_percent >= pass_percent, pass_percent)
        return attempt_id, submitted

    def person_course(self, user_id: int, agency_id: int, course: CourseInfo, state: str,
                      cycle_start: datetime, now: datetime) -> None:
        """Lessons read, checks, practice, final attempts and the completion of one person in one course."""
        rng, stamp = self.rng, self.stamp
        lessons = len(course.lesson_ids)
        read = lessons if state == "completed" else rng.randint(1, lessons - 1)
        gaps = [timedelta(hours=rng.uniform(2, 40)) for _ in range(read + 2)]
        latest_start = now - sum(gaps, timedelta()) - timedelta(days=1)
        earliest_start = cycle_start + timedelta(hours=6)
        moment = earliest_start + (latest_start - earliest_start) * rng.random()
        numbers: dict[int | None, int] = {}

        def next_number(quiz_id):
            numbers[quiz_id] = numbers.get(quiz_id, 0) + 1
            return numbers[quiz_id]

        latest = moment  # the last lesson seen or attempt started, for course_activity
        for index in range(read):
            lesson_id = course.lesson_ids[index]
            moment += gaps[index]
            finished = moment + timedelta(minutes=course.lesson_minutes[index] + rng.randint(0, 10))
            unfinished = state != "completed" and index == read - 1 and rng.random() < 0.3
            self.add("lesson_progress", user_id, lesson_id, stamp(moment), stamp(finished),
                     None if unfinished else stamp(finished))
            latest = finished
            check = course.checks.get(lesson_id)
            if check is not None and not unfinished and rng.random() < LESSON_CHECK_CHANCE:
                latest = finished + timedelta(minutes=2)
                self.attempt(user_id, course, check, next_number(check.id), latest)
            if check is not None and state != "completed" and index == read - 1 \
                    and rng.random() < OPEN_ATTEMPT_CHANCE:
                latest = finished + timedelta(minutes=20)
                self.attempt(user_id, course, check, next_number(check.id), latest, is_open=True)
        if rng.random() < PRACTICE_CHANCE:
            latest = max(latest, moment + timedelta(hours=1))
            self.attempt(user_id, course, None, next_number(None), moment + timedelta(hours=1))
        if state != "completed":
            self.add("course_activity", user_id, course.id, stamp(latest))
            return
        final = course.final
        moment += gaps[read]
        if rng.random() < FAILED_FINAL_CHANCE:
            _, submitted = self.attempt(user_id, course, final, next_number(final.id), moment,
                                        must_pass=False)
            moment = submitted + timedelta(hours=rng.uniform(0.5, 20))
        attempt_id, submitted = self.attempt(user_id, course, final, next_number(final.id), moment,
                                             must_pass=True)
        self.add("course_activity", user_id, course.id, stamp(max(latest, moment)))
        completion_id = self.next_id["course_completion"]
        self.add("course_completion", user_id, course.id, agency_id,
                 stamp(submitted + timedelta(minutes=rng.randint(1, 10))), COMMITMENT_TEXT, "10.0.0.1",
                 "Mozilla/5.0 (dữ liệu đo hiệu năng)", _certificate_code(completion_id), attempt_id)


def analyze_counts(session) -> None:
    """Statistics for the rows a recount has just written (1.8 million stored statuses at scale 10),
    what autovacuum does within a minute or so; timed before it, the people list is planned as if
    the table were empty (450 ms at scale 10 instead of 40)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE person_course_status, agency_progress"))
        session.commit()


class _Phases:
    """Prints how long each phase after the bulk load took (a country-sized run spends minutes in
    each: the figures say where generation time goes)."""

    def __init__(self, label: str, started_at: float):
        self.label, self.started_at = label, started_at
        self.last = time.perf_counter()

    def done(self, what: str) -> None:
        now = time.perf_counter()
        click.echo(f"{self.label}: {what} in {now - self.last:.1f} s ({now - self.started_at:.0f} s so far)", err=True)
        self.last = now


# -- the whole dataset -------------------------------------------------------------------------------

def generate(scale: float, label: str, seed: int = 874) -> Dataset:
    """Fill an empty, migrated database (inside an app context) and describe what was made."""
    started_at = time.perf_counter()
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    cycle_start = now - timedelta(days=CYCLE_DAYS)

    load_curriculum()
    first = db.session.scalar(select(Course).where(Course.status == "published").order_by(Course.id))
    for number in range(2, COURSE_COUNT + 1):
        copy_course(first, number)
    db.session.commit()
    courses, versions = curriculum_info(rng)
    db.session.commit()
    click.echo(f"{label}: curriculum loaded and {COURSE_COUNT} courses ready in "
               f"{time.perf_counter() - started_at:.1f} s", err=True)
    db.session.remove()  # SQLite: release the file before the bulk writer takes it

    engine = db.engine
    writer = PostgresWriter(engine) if engine.dialect.name == "postgresql" else SqliteWriter(engine)
    stamp = writer.stamp
    # The schema may lack a table this generator knows (course_activity arrived in migration 0006).
    rows = _Rows(stamp, rng, versions, [table for table in COLUMNS if table in db.metadata.tables])
    tree = agency_tree(scale)
    paths: dict[int, str] = {}
    for agency_id, parent_id, depth, number in tree:  # parents come before their children
        paths[agency_id] = f"{paths[parent_id] if parent_id else '/'}{agency_id}/"
        name, kind = _agency_name(depth, number)
        rows.add("agency", f"BENCH-{number or 'ROOT'}", name, strip_diacritics(name), kind, parent_id, paths[agency_id], depth, True,
                 stamp(cycle_start - timedelta(days=30)))
    depth_1 = [node[0] for node in tree if node[2] == 1]
    root_id, mid_id = 1, depth_1[0]
    for course in courses:
        due = now + timedelta(days=30)
        rows.add("assignment", course.id, root_id, stamp(cycle_start), stamp(due), None, None,
                 True, stamp(cycle_start))
    for course in courses[:2]:
        for agency_id in depth_1[OVERDUE_EVERY - 1::OVERDUE_EVERY]:
            rows.add("assignment", course.id, agency_id, stamp(cycle_start), stamp(now - timedelta(days=5)),
                     None, None, True, stamp(cycle_start))
    rows.flush(writer)
    writer.commit()

    staff = max(10, round(BASE_STAFF * scale))
    weights = [STAFF_WEIGHT_BY_DEPTH[depth] for _, _, depth, _ in tree]
    placed = rng.choices([node[0] for node in tree], weights=weights, k=staff)
    placed[0], placed[1] = root_id, mid_id  # the two managers
    active = [True] * staff
    password_hash = hash_password(PASSWORD)
    phase = _Phases(label, started_at)
    with click.progressbar(length=staff, label=f"{label}: generating {staff:,} people", file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        for user_id, agency_id in enumerate(placed, 1):
            full_name = _random_name(rng)
            username = f"cb{user_id:06d}"
            is_active = rng.random() >= INACTIVE_SHARE or user_id <= 2  # the managers stay active
            active[user_id - 1] = is_active
            rows.add("user", username, f"{username}@bench.invalid", full_name, strip_diacritics(full_name),
                     f"CB{user_id:06d}", agency_id, password_hash, is_active, False, False,
                     stamp(cycle_start - timedelta(days=20)))
            for index, course in enumerate(courses):
                draw = rng.random()
                if draw < COMPLETED_SHARE[index]:
                    state = "completed"
                elif draw < COMPLETED_SHARE[index] + IN_PROGRESS_SHARE[index]:
                    state = "in_progress"
                else:
                    continue
                rows.person_course(user_id, agency_id, course, state, cycle_start, now)
            if user_id % BATCH_USERS == 0 or user_id == staff:
                rows.flush(writer)
                writer.commit()
                bar.update(BATCH_USERS if user_id % BATCH_USERS == 0 else staff % BATCH_USERS)
    rows.add("manager_scope", 1, root_id, stamp(cycle_start))
    rows.add("manager_scope", 2, mid_id, stamp(cycle_start))
    rows.flush(writer)
    writer.commit()
    writer.wait()  # the recounts below read every row
    phase.done("people written")
    # The tallies of "what staff get wrong", as the learning services would have kept them.
    rows.counts["answer_tally"] = rebuild_tallies(db.session)
    rows.counts["completion_tally"] = rebuild_completion_tallies(db.session)
    db.session.commit()
    db.session.remove()
    phase.done("answer and completion tallies counted")
    writer.finish()
    phase.done("statistics gathered" if engine.dialect.name == "postgresql" else "file closed")
    # The progress summaries the dashboards read (`tracking.progress`), counted with statistics;
    # the table of which assignments cover which agencies (`tracking.coverage`) is written first.
    rows.counts["agency_progress"] = progress.rebuild(db.session)
    db.session.commit()
    analyze_counts(db.session)
    db.session.remove()
    phase.done("progress summaries and stored statuses counted")

    mid_path = paths[mid_id]
    return Dataset(
        root_id=root_id, mid_id=mid_id, course_slug=courses[0].slug, root_manager="cb000001",
        mid_manager="cb000002", password=PASSWORD,
        root_staff=sum(active),
        mid_staff=sum(1 for agency_id, is_active in zip(placed, active)
                      if is_active and paths[agency_id].startswith(mid_path)),
        counts=dict(rows.counts),
        generate_s=round(time.perf_counter() - started_at, 1))

