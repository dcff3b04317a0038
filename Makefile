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

.PHONY: help run test kb-check spacy model clean

help:
	@echo "make run       install, train if needed, start every server, print the URLs"
	@echo "make test      install, train if needed, run the whole test suite"
	@echo "make kb-check  validate scripts_kb/ against its schema"

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

kb-check: $(STAMP)
	@$(PY) -m deescalate.kb.check scripts_kb

run: $(STAMP) model
	@$(PY) -m deescalate.stack run

test: $(STAMP) model
	$(PY) -m pytest tests

clean:
	rm -rf build var .pytest_cache
