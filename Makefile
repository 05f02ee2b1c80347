# Thin wrappers: each target is one command. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test bench lint lint-sql dbt-check format app dev-cert lock clean

install: $(STAMP)

# Re-install only when the dependency files change; the lock file pins every package.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
# sqlfluff's dbt templater pins an older sqlfluff than ours (why: pyproject.toml, dev).
	$(BIN)/pip install --quiet --no-deps -c requirements.lock sqlfluff-templater-dbt
	touch $(STAMP)

demo: install
	$(BIN)/pathwise demo

test: install
	$(BIN)/pytest -n 2 --dist loadgroup

app: install
	$(BIN)/pathwise app

# A local CA and an HTTPS certificate for localhost under $PATHWISE_HOME/tls (prints what to set).
dev-cert: install
	$(BIN)/pathwise dev-cert

bench: install
	$(BIN)/python -m benchmarks

lint: install lint-sql
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

# The dbt models against .sqlfluff (dbt templater on the profile's in-memory `lint` target).
lint-sql: install
	$(BIN)/sqlfluff lint dbt/models

# dbt Labs' best-practice checker, on a throw-away copy of dbt/ (needs ../shared/dbt-packages).
dbt-check: install
	$(BIN)/python -m flows.dbt_check

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/pip freeze --exclude-editable | grep -v '^pathwise' > requirements.lock

clean:
	rm -rf var dbt/target dbt/logs .pytest_cache
