# 平安测评 — two commands on a fresh Debian machine:
#   make run    install everything, migrate, seed the demo if empty, serve http://127.0.0.1:5000
#   make test   the whole suite on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app app
HOST   ?= 127.0.0.1
PORT   ?= 5000
# WeasyPrint (Pango, HarfBuzz subsetting: ~6x faster PDFs), the CJK font for PDFs and charts,
# poppler for reading PDFs back in tests, Chromium for the real-browser tests.
DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk poppler-utils chromium sqlite3
# R's survey package: only for regenerating reference values and for the benchmarks.
R_DEBS := r-cran-survey r-cran-jsonlite r-cran-yaml

.PHONY: install debs run serve test test-sqlite test-postgres bench r-reference clean

install: debs $(VENV)/.installed

debs:
	@sh scripts/install-debs.sh $(DEBS)

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

run: install
	$(FLASK) db upgrade
	$(FLASK) demo seed --if-empty
	$(MAKE) --no-print-directory serve

# Several workers need Redis for the rate limits (gunicorn.conf.py refuses otherwise): with Redis
# answering on 127.0.0.1:6379 it is used, without it `make run` serves with one worker.
# Beside gunicorn runs the background worker (docs/jobs.md: analysis runs and document builds),
# `huey_consumer worker.huey`, on the queue of JOBS_QUEUE_URL (default: an SQLite file in
# instance/); it is stopped when gunicorn stops (Ctrl-C, or gunicorn exiting).
JOBS_WORKERS ?= 2
serve:
	@echo "平安测评: http://$(HOST):$(PORT)/  (管理后台 /admin/)"
	@mkdir -p instance; $(PY) -m huey.bin.huey_consumer worker.huey --workers $(JOBS_WORKERS) --logfile instance/worker.log & worker=$$!; \
	echo "后台任务进程 huey_consumer (pid $$worker),日志 instance/worker.log"; \
	trap 'kill -INT $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	if [ -z "$$RATELIMIT_STORAGE_URI" ] && $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1).close()" 2>/dev/null; then \
		export RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379; echo "rate limits in Redis at 127.0.0.1:6379"; \
	elif [ -z "$$RATELIMIT_STORAGE_URI" ]; then \
		export GUNICORN_WORKERS=1 GUNICORN_THREADS=$${GUNICORN_THREADS:-8}; echo "no Redis at 127.0.0.1:6379: one worker"; \
	fi; \
	GUNICORN_BIND=$(HOST):$(PORT) GUNICORN_ACCESSLOG=- $(VENV)/bin/gunicorn -c gunicorn.conf.py "app:create_app()"

# `make test TEST_DATABASE_URL=…` exports the variable to every recipe: the SQLite pass must unset it.
test: install
	@echo "== on SQLite"
	env -u TEST_DATABASE_URL $(PY) -m pytest
	@if [ -n "$(TEST_DATABASE_URL)" ]; then \
		echo "== again on $(TEST_DATABASE_URL)"; \
		TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(PY) -m pytest; \
	fi

# svy (timed against our analysis) brings pyarrow, which would switch pandas to Arrow strings in
# every process of .venv; so it goes into a folder of its own that only the benchmark puts on its path.
bench: install
	@sh scripts/install-debs.sh $(R_DEBS) wrk
	$(PY) -m pip install --quiet --no-deps --target .bench-packages -r bench/requirements.txt
	BENCH_SVY_PATH=.bench-packages $(PY) -m bench.analysis
	$(PY) -m bench.reports
	$(PY) -m bench.imports
	$(PY) -m bench.load
	$(PY) -m bench.faults
	$(PY) -m bench.console

r-reference: install
	@sh scripts/install-debs.sh $(R_DEBS)
	$(PY) tests/fixtures/analysis/make_dataset.py
	Rscript tests/fixtures/analysis/make_reference.R
	Rscript tests/fixtures/analysis/make_reference.R practice
	$(PY) tests/fixtures/items/make_dataset.py
	Rscript tests/fixtures/items/make_reference.R

clean:
	rm -rf $(VENV) .pytest_cache
