"""`make bench`: a province-scale dataset on PostgreSQL and SQLite, and the timings of the manager's pages."""
