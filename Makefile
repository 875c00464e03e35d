# The README's two commands are `make run` and `make test`; everything else supports them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test lint format install clean-instance bench

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## run: web on 127.0.0.1:5000 (WEB_BIND=0.0.0.0:5000 to open it) and a worker with the
## scheduler; embedded Redis and SQLite under instance/. admin / admin must pick a new password.
run: install
	$(FLASK) db upgrade
	$(FLASK) create-admin --default --if-missing
	@echo "Dashboard: http://$${WEB_BIND:-127.0.0.1:5000}/admin/"
	DELIVERY_ALLOWED_NETWORKS="$${DELIVERY_ALLOWED_NETWORKS-127.0.0.0/8,::1/128}" \
	  PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile

## test: lint, then the whole suite against real Redis, SQLite and PostgreSQL
test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: delivery throughput against the naive RQ baseline (bench/delivery.py; BENCH_ARGS=--stall)
bench: install
	$(BIN)/python bench/delivery.py $(BENCH_ARGS)

## bench-senders: CPU per signed POST for each candidate HTTP client, side by side (bench/senders.py)
.PHONY: bench-senders
bench-senders: install
	$(BIN)/pip install -q -r requirements-bench.txt
	$(BIN)/python bench/senders.py $(BENCH_ARGS)

## soak: the fault suite (tests/faults/) at FAULTS_SCALE (20) times its CI size; prints its table
.PHONY: soak
soak: install
	rm -f "$${FAULTS_REPORT:=artifacts/faults-soak.jsonl}"; \
	FAULTS_SCALE="$${FAULTS_SCALE:-20}" FAULTS_REPORT="$$FAULTS_REPORT" \
	  $(BIN)/python -m pytest tests/faults -q $(PYTEST_ARGS); status=$$?; \
	$(BIN)/python -m tests.faults.report "$$FAULTS_REPORT"; exit $$status

clean-instance:
	rm -rf instance
