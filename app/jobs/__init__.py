"""Background jobs: work that can outlast a request (big exports, reports, recounts, the daily mail)."""
