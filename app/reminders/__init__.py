"""Reminders by email: learners near or past their due date, and digests for agency heads."""
