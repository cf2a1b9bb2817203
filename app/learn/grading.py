"""Grading rules, applied on the server only.

- single choice and true/false: 1 point when the selected choice is the correct one, else 0;
- multiple choice and select-the-violating-parts: partial credit,
  (correct selections − wrong selections) / number of correct choices, never below 0.
  Selecting everything therefore earns nothing more than selecting nothing wrong.
A quiz's score is the sum of points; its percentage is points / questions × 100.
"""
from __future__ import annotations

EXACT_TYPES = ("single", "true_false")


def score_answer(question_type: str, correct: list[str], answer: list[str] | None) -> float:
    if not answer:
        return 0.0
    chosen, right = set(answer), set(correct)
    if question_type in EXACT_TYPES:
        return 1.0 if chosen == right else 0.0
    gained = len(chosen & right) - len(chosen - right)
    return max(0.0, gained / len(right))


def percent(points: float, questions: int) -> float:
    return round(points / questions * 100, 1) if questions else 0.0
