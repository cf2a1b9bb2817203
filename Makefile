# `make run` sets up and serves the app on SQLite with demo data; `make test` runs the whole suite
# on SQLite, then on a throwaway PostgreSQL cluster with the browser tests in Chromium.
SHELL := /bin/bash
VENV := .venv
FLASK := $(VENV)/bin/flask
export FLASK_APP := app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve worker test setup setup-dev setup-load system-deps runtime-deps check clean bench audit loadtest loadtest-exam faulttest

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(VENV)/.installed-load: requirements-load.txt $(VENV)/.installed-dev
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-load.txt
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

setup-load: $(VENV)/.installed-load

run: setup runtime-deps
	$(FLASK) db upgrade
	$(FLASK) content load
	$(FLASK) demo
	@echo "Mở http://$(HOST):$(PORT) và đăng nhập bằng một tài khoản ở trên."
	$(FLASK) run --host $(HOST) --port $(PORT)

# Production (docs/deploy.md): SECRET_KEY and DATABASE_URL (PostgreSQL) come from the environment;
# migrations are applied, then gunicorn serves with gunicorn.conf.py, and JOB_WORKERS background-job
# workers run beside it (Redis at JOBS_REDIS_URL), stopped with it.
JOB_WORKERS ?= 1
serve: setup runtime-deps
	APP_CONFIG=production $(FLASK) db upgrade
	APP_CONFIG=production $(FLASK) tracking refresh-progress
	trap 'kill $$(jobs -p) 2>/dev/null' EXIT; \
	for n in $$(seq $(JOB_WORKERS)); do APP_CONFIG=production $(FLASK) jobs worker & done; \
	HOST=$(HOST) PORT=$(PORT) APP_CONFIG=production $(VENV)/bin/gunicorn -c gunicorn.conf.py "app:create_app('production')"

# One more background-job worker (app/jobs), e.g. on a server of its own; needs JOBS_REDIS_URL's Redis.
worker: setup
	APP_CONFIG=$${APP_CONFIG:-production} $(FLASK) jobs worker

system-deps:
	scripts/ensure-system-deps.sh

# The Debian packages serving needs (the PDFs' static fonts), without the test servers.
runtime-deps:
	scripts/ensure-system-deps.sh runtime

test: setup-dev system-deps
	scripts/run-tests.sh

SCALE ?= 1
# Province-scale dataset on PostgreSQL and SQLite, page timings, bench/results.json (docs/benchmarks.md).
bench: setup-dev system-deps
	$(VENV)/bin/python -m bench --scale $(SCALE)

# Lighthouse (mobile, first and repeat visit) on the main learner, manager and trainer pages of a demo
# database served by gunicorn: scores, LCP, bytes, audit/results.json (docs/benchmarks.md, "Front end").
audit: setup-dev system-deps
	[ -f audit/node_modules/lighthouse/package.json ] || npm ci --prefix audit --no-audit --no-fund --silent
	nice -n 10 $(VENV)/bin/python -m audit

DURATION ?= 300
USERS ?= 300
MANAGERS ?= 20
THINK ?= 2-6
PAUSE ?= 5-15
READ ?= 5-15
# Locust against gunicorn (4 workers) on a throwaway PostgreSQL: a table and loadtest/results.json
# (docs/benchmarks.md, "Load tests"). A quick run: make loadtest DURATION=60 USERS=50 MANAGERS=5;
# THINK, PAUSE and READ are the seconds between answers, between tasks and spent reading a lesson.
loadtest: setup-load system-deps
	$(VENV)/bin/python -m loadtest day --duration $(DURATION) --users $(USERS) --managers $(MANAGERS) \
		--think $(THINK) --pause $(PAUSE) --read $(READ)

EXAM_USERS ?= 3000
EXAM_WINDOW ?= 60
EXAM_THINK ?= 10-20
# The exam hour: EXAM_USERS learners start the final test within EXAM_WINDOW seconds.
loadtest-exam: setup-load system-deps
	$(VENV)/bin/python -m loadtest exam --users $(EXAM_USERS) --window $(EXAM_WINDOW) --think $(EXAM_THINK)

# SIGKILL gunicorn workers and restart PostgreSQL while learners answer and submit: nothing lost or doubled.
faulttest: setup-load system-deps
	$(VENV)/bin/python -m loadtest fault

check: setup
	$(FLASK) content check

clean:
	rm -rf $(VENV) .pytest_cache
