# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL := 3
# Rasa would otherwise send usage telemetry; this product keeps data on site.
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)

# Rasa 3.6 supports Python up to 3.10: use python3.10 from PATH or pyenv.
PYTHON310 := $(or $(shell command -v python3.10 2>/dev/null),$(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10))))

.PHONY: help run test eval kb-check spacy model clean user browser purge

help:
	@echo "make run       install, train if needed, start every server, print the URLs"
	@echo "make test      install, train if needed, run the whole test suite"
	@echo "make eval      evaluate the NLU on the held-out test split (tests/nlu_test), write results/nlu/"
	@echo "make kb-check  validate scripts_kb/ against its schema"
	@echo "make purge     delete case records past the retention period (privacy.yml); ARGS=--dry-run only counts"
	@echo "make user USER=name ROLE=agent   add a web account (roles: agent supervisor trainer admin); asks the password"

$(STAMP): requirements.txt constraints.txt
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "Python 3.10 is missing: Rasa 3.6 needs python3.10 on PATH or under ~/.pyenv/versions/3.10.*"; exit 1; fi
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	@touch $@

spacy: $(STAMP)
	@$(PY) -m deescalate.build spacy

model: $(STAMP)
	@$(PY) -m deescalate.build model

eval: $(STAMP) model
	$(PY) -m deescalate.evaluate

kb-check: $(STAMP)
	@$(PY) -m deescalate.kb.check scripts_kb

run: $(STAMP) model
	@$(PY) -m deescalate.stack run

test: $(STAMP) model browser
	$(PY) -m pytest tests

clean:
	rm -rf build var .pytest_cache

# Web accounts: `make user USER=wang ROLE=agent` (the password is asked, never on the command line).
ROLE ?= agent
user: $(STAMP)
	@$(PY) -m deescalate.web.users add "$(USER)" --role "$(ROLE)"

# The browser tests drive Debian's Chromium (never a downloaded browser) and need a
# Chinese font so that screenshots are legible.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian chromium for the browser tests: apt-get install -y chromium"; \
	  $(SUDO) apt-get install -y chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }; fi
	@if ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  echo "installing a Chinese font for the browser tests: apt-get install -y fonts-wqy-microhei"; \
	  $(SUDO) apt-get install -y fonts-wqy-microhei || { $(SUDO) apt-get update && $(SUDO) apt-get install -y fonts-wqy-microhei; }; fi

# Retention: cases untouched for longer than privacy.yml's retention.days go,
# with their tracker events and corrections. `make purge ARGS=--dry-run` only counts.
purge: $(STAMP)
	@$(PY) -m deescalate.purge $(ARGS)
