"""Completion tracking and reports for agency heads: assignments, dashboards, exports, reminders."""
