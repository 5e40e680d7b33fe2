# The two set-up commands of the README: `make run` (web chat) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test eval bench clean

install: $(STAMP) node_modules/.package-lock.json

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# Ask for torch first with the CPU range, so nothing pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q "torch>=2.3,<2.14"
	$(BIN)/python -m pip install -q -e ".[web,eval,test]"
	@touch $@

# axe-core for the accessibility tests (npm registry; skipped with a hint where npm is missing).
node_modules/.package-lock.json: package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; else echo "npm not found: the accessibility tests will be skipped (apt-get install npm)"; fi

run: install
	$(BIN)/policyqa model build
	$(BIN)/policyqa serve

# Regression gate on the report-only test split: thresholds sit just under the current figures.
GATE := --min-hit1 0.94 --min-keys 0.91 --min-abstain-recall 0.88 --max-false-abstain 0.03

test: install
	$(BIN)/ruff check assistant tests scripts
	$(BIN)/mypy
	$(BIN)/policyqa model build
	$(BIN)/python -m pytest
	$(BIN)/policyqa eval eval/test.jsonl --modes final $(GATE)

eval: install
	$(BIN)/policyqa eval eval/test.jsonl --report-dir artifacts/eval-test

bench: install
	$(BIN)/python scripts/benchmark.py

clean:
	rm -rf $(VENV) index/current data artifacts
