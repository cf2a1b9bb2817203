"""Authoring: trainers edit lessons and questions in the browser, as drafts, then publish."""
