# Two commands: `make book` and `make test`. PROFILE=smoke|quick|paper (default quick).
# `make pdf` typesets the last book built as one PDF; without XeLaTeX it names the Debian packages to install.
# `make lab` opens the chapters in JupyterLab (HDMANN_DATA and PROFILE as for make book).
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= quick
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book pdf test venv fetch info bench lab clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	$(BIN)/hdmann book --profile $(PROFILE)

pdf: $(STAMP)
	$(BIN)/hdmann pdf

test: $(STAMP)
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/hdmann lab --profile $(PROFILE)

fetch: $(STAMP)
	$(BIN)/hdmann fetch isic4
	$(BIN)/hdmann fetch mias

info: $(STAMP)
	$(BIN)/hdmann info

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf _build
