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

# Rasa 3.6 supports Python up to 3.10: the first python3.10 that really runs, from PATH
# (a pyenv shim may exist without selecting 3.10) or from pyenv's versions.
PYTHON310 := $(shell for p in "$$(command -v python3.10)" $(sort $(wildcard $(PYENV_ROOT)/versions/3.10*/bin/python3.10 $(HOME)/.pyenv/versions/3.10*/bin/python3.10)) /usr/bin/python3.10 /usr/local/bin/python3.10; do \
  [ -n "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: help run test test-fast lint eval nlu-cv kb-check spacy model clean user browser purge audit export-corrections
.PHONY: scale-up scale-down test-scale bench import-history retrain rollback script-report homophones

help:
	@echo "make run       install, train if needed, start every server, print the URLs"
	@echo "make test      install, train if needed, lint, run the whole test suite (as CI does)"
	@echo "make test-fast the unit tier only: no servers, no model, no browser"
	@echo "make lint      ruff (lint and format check) and mypy on deescalate/ and actions/"
	@echo "make eval      evaluate the NLU (tests/nlu_test; real words too when ../shared/real-dev is there) and the taboo check: results/nlu/, results/taboo/"
	@echo "make nlu-cv    cross-validate the intent and emotion classifiers' settings on the training data"
	@echo "make homophones  remake deescalate/homophones.yml (regulators' names as speech-to-text mishears them) from the lexicon"
	@echo "make kb-check  validate scripts_kb/ against its schema; every customer-facing line must pass the taboo check"
	@echo "make purge     delete case records past the retention period (privacy.yml); ARGS=--dry-run only counts"
	@echo "make audit    who viewed which case: ARGS='--user wang --case case-1 --since 2026-01-01 --action case'"
	@echo "make user USER=name ROLE=agent   add a web account (roles: agent supervisor trainer admin); asks the password"
	@echo "make export-corrections  write trainers' unexported label corrections to data/nlu/corrections_<time>.yml"
	@echo "make import-history FILE=export.csv [MAP=map.yml] [NAME=bank-2023]   a bank's complaint history as training"
	@echo "                data in data/nlu/imported/ (masked, bad rows reported by line); without MAP: draft the map"
	@echo "make retrain   train a candidate on data/, compare it with the serving model, promote it only when no"
	@echo "               floor drops (deescalate/tools/floors.yml); writes results/model_card.md"
	@echo "make rollback  serve the model promoted before the current one"
	@echo "make script-report [FROM=2026-11-01] [TO=2026-11-30]   which lines calm customers: results/scripts.csv"
	@echo "make scale-up     PostgreSQL, Redis, 2 Rasa instances and an action server behind haproxy (loopback)"
	@echo "make scale-down   stop what scale-up started"
	@echo "make test-scale   load test: 200 cases x 10 turns through haproxy, one Rasa instance killed mid-way"
	@echo "make bench        latency, throughput, training time and memory on one machine, then a per-part profile: results/bench.json"

$(STAMP): requirements.txt constraints.txt
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "Python 3.10 is missing: Rasa 3.6 needs python3.10 on PATH or under ~/.pyenv/versions/3.10.*"; exit 1; fi
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	@touch $@

spacy: $(STAMP)
	@$(PY) -m deescalate.tools.build spacy

model: $(STAMP)
	@$(PY) -m deescalate.tools.build model

eval: $(STAMP) model
	$(PY) -m deescalate.tools.evaluate

nlu-cv: $(STAMP)
	$(PY) -m deescalate.tools.nlu_cv --label intent
	$(PY) -m deescalate.tools.nlu_cv --label cause
	$(PY) -m deescalate.tools.nlu_cv --label emotion

homophones: $(STAMP)
	$(PY) -m deescalate.tools.homophones

kb-check: $(STAMP)
	@$(PY) -m deescalate.kb.check scripts_kb

run: $(STAMP) model
	@$(PY) -m deescalate.tools.stack run

# Tiers (pytest.ini, tests/conftest.py): stack (servers or the model), browser, scale.
# Screenshots go to $(TEST_ARTIFACTS) (outside the working tree).
export TEST_ARTIFACTS ?= $(or $(TMPDIR),/tmp)/deescalate-test-artifacts
# Hypothesis's example database and caches, also outside the working tree.
export HYPOTHESIS_STORAGE_DIRECTORY ?= $(HOME)/.cache/deescalate/hypothesis
test: $(STAMP) lint model browser
	$(PY) -m pytest tests

test-fast: $(STAMP)
	PROPERTY_EXAMPLES_SCALE=0.1 $(PY) -m pytest tests -m "not stack and not browser and not scale" -q

# Caches of the linters live outside the working tree.
LINT_CACHE := $(HOME)/.cache/deescalate/lint/$(notdir $(CURDIR))
lint: $(STAMP)
	RUFF_CACHE_DIR=$(LINT_CACHE)/ruff $(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --cache-dir $(LINT_CACHE)/mypy
	RUFF_CACHE_DIR=$(LINT_CACHE)/ruff $(VENV)/bin/ruff format --check --output-format concise .

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

# The access audit trail (deescalate/audit.py): `make audit ARGS="--case case-1"`.
audit: $(STAMP)
	@$(PY) -m deescalate.audit $(ARGS)

# Trainers' label corrections (review pages) as NLU training data in data/nlu/;
# review the new file like any data change, then `make model` retrains.
export-corrections: $(STAMP)
	@$(PY) -m deescalate.review.export $(ARGS)

# A bank's own complaint history (docs/learning.md). Without MAP a draft
# mapping is written next to FILE; ARGS passes --encoding, --*-column, ...
import-history: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make import-history FILE=export.csv [MAP=map.yml] [NAME=name]"; exit 2; }
	@$(PY) -m deescalate.tools.import_history "$(FILE)" $(if $(MAP),--map "$(MAP)") $(if $(NAME),--name "$(NAME)") $(ARGS)

# Safe retraining (docs/learning.md): promote only what keeps every floor.
# RESULTS_DIR moves the model card; MODEL_CACHE_DIR the models and the pointer.
retrain: $(STAMP)
	@$(PY) -m deescalate.tools.retrain retrain

rollback: $(STAMP)
	@$(PY) -m deescalate.tools.retrain rollback

# Script effectiveness per knowledge-base line (docs/learning.md); RESULTS_DIR moves the CSV.
script-report: $(STAMP)
	@$(PY) -m deescalate.learning.report $(if $(FROM),--from "$(FROM)") $(if $(TO),--to "$(TO)") $(ARGS)

# Scale-out on one machine (docs/operations.md "Scale-out"): installs postgresql,
# redis-server and haproxy from Debian when missing; loopback ports only.
scale-up: $(STAMP) model
	@$(PY) -m deescalate.tools.scale up

scale-down: $(STAMP)
	@$(PY) -m deescalate.tools.scale down

# LOAD_CASES, LOAD_TURNS, LOAD_KILL_AT scale the run; LOAD_KEEP=1 leaves the stack up.
test-scale: $(STAMP) model
	@$(PY) -m deescalate.tools.loadtest

# The figures beside the floors, then where the time of a turn goes (per part, turns 1-10 against 91-100).
bench: $(STAMP) model
	@$(PY) -m deescalate.tools.bench
	@$(PY) -m deescalate.tools.bench.profile
