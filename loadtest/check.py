"""What a load or fault test must leave in the database, checked against what the clients were told.

`install` adds a trigger to the throwaway database that logs every grading (an attempt turning
`submitted`, or a submitted attempt's score changing), so "graded exactly once" is counted, not
inferred. `verify` then compares the database with the JSON lines the clients wrote (loadtest/
locustfile.py, loadtest/fault.py): every answer a client got a 2xx for is stored as sent, every
submission a client got a 2xx for is graded, no attempt is graded twice, nobody has two open
attempts at one quiz, and no attempt exists that no client started.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

GRADING_LOG = """
CREATE TABLE IF NOT EXISTS loadtest_grading (attempt_id integer NOT NULL, graded_at timestamptz DEFAULT now());
CREATE OR REPLACE FUNCTION loadtest_log_grading() RETURNS trigger AS $$
BEGIN
  INSERT INTO loadtest_grading (attempt_id) VALUES (NEW.id);
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS loadtest_grading ON attempt;
CREATE TRIGGER loadtest_grading AFTER UPDATE ON attempt FOR EACH ROW
  WHEN (NEW.status = 'submitted' AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.score IS DISTINCT FROM NEW.score))
  EXECUTE FUNCTION loadtest_log_grading();
"""


def install(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(GRADING_LOG)
    engine.dispose()


def read_sent(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob("sent-*.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]


@dataclass
class Report:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, ok, detail))

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    def lines(self) -> list[str]:
        return [f"  [{'ok' if ok else 'FAILED'}] {name}{f': {detail}' if detail else ''}"
                for name, ok, detail in self.checks]

    def as_dict(self) -> dict:
        return {"ok": self.ok, "counts": self.counts,
                "checks": [{"name": name, "ok": ok, "detail": detail} for name, ok, detail in self.checks]}


def _sample(items) -> str:
    items = sorted(items)
    return ", ".join(map(str, items[:5])) + (" …" if len(items) > 5 else "")


def verify(database_url: str, sent_folder: Path, secret_key: str) -> Report:
    """Check the database against what the clients were told; `secret_key` is the servers' (clients
    send an attempt's opaque choice keys, learn.services.choice_tokens, the database keeps the bank's)."""
    from app.learn.services import choice_tokens

    sent = read_sent(sent_folder)
    started = {line["attempt"] for line in sent if line["event"] == "start"}
    submitted = {line["attempt"] for line in sent if line["event"] == "submit"}
    answers = {}
    for line in sent:  # the last answer a client saved for a question is the one that counts
        if line["event"] == "answer":
            answers[(line["attempt"], line["position"])] = line["answer"]
    engine = create_engine(database_url)
    with engine.connect() as connection:
        attempts = {row.id: row for row in connection.execute(text(
            "SELECT id, user_id, quiz_id, status, score, submitted_at FROM attempt"))}
        stored = {(row.attempt_id, row.position): (row.answer, row.score) for row in connection.execute(text(
            "SELECT attempt_id, position, answer, score FROM attempt_question"))}
        gradings = Counter(row.attempt_id for row in connection.execute(text(
            "SELECT attempt_id FROM loadtest_grading")))
        open_twice = connection.execute(text(
            "SELECT user_id, quiz_id FROM attempt WHERE status = 'in_progress' "
            "GROUP BY user_id, quiz_id HAVING count(*) > 1")).all()
        sums = {row.attempt_id: row.total for row in connection.execute(text(
            "SELECT attempt_id, sum(score) AS total FROM attempt_question GROUP BY attempt_id"))}
    engine.dispose()

    report = Report(counts={
        "attempts_started": len(started), "attempts_submitted": len(submitted),
        "answers_saved": len(answers), "attempts_in_database": len(attempts),
        "attempts_left_open": sum(1 for row in attempts.values() if row.status == "in_progress"),
        "gradings": sum(gradings.values())})
    ungraded = {a for a in submitted if a not in attempts or attempts[a].status != "submitted"
                or attempts[a].score is None}
    report.add("every submission a client got a 2xx for is graded", not ungraded, _sample(ungraded))
    twice = {a for a, count in gradings.items() if count > 1}
    report.add("no attempt graded twice (trigger log)", not twice, _sample(twice))
    closed = {a for a, row in attempts.items() if row.status == "submitted"}
    not_logged = closed - set(gradings)
    report.add("every submitted attempt graded exactly once", not not_logged and not twice, _sample(not_logged))
    wrong_sum = {a for a in closed if attempts[a].score is not None
                 and abs(float(sums.get(a) or 0) - float(attempts[a].score)) > 1e-6}
    report.add("each grade is the sum of its questions' scores", not wrong_sum, _sample(wrong_sum))
    def as_sent(key, keys):
        return [choice_tokens(secret_key.encode(), *key, keys)[choice] for choice in keys or []]

    lost = {key for key, keys in answers.items() if key not in stored or as_sent(key, stored[key][0]) != keys}
    report.add("every answer a client got a 2xx for is stored as sent", not lost, _sample(lost))
    report.add("nobody has two open attempts at one quiz", not open_twice, _sample(open_twice))
    unknown = set(attempts) - started
    report.add("no attempt that no client started (no duplicate attempts)", not unknown, _sample(unknown))
    return report
