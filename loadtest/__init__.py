"""Load, fault and scale-out tests: real gunicorn servers, PostgreSQL and Redis on loopback."""
