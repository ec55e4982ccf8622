# The two commands of the README:
#   make demo   set the project up (a virtualenv in .venv) and run `gateway demo`
#   make test   set the project up and run every test (SQLite, and PostgreSQL at 127.0.0.1:5432)

VENV ?= .venv
PYTHON ?= python3

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/gateway demo

test: $(VENV)/.installed
	$(VENV)/bin/pytest

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/settle.py --database sqlite
	$(VENV)/bin/python benchmarks/settle.py --database postgresql

clean:
	rm -rf $(VENV) *.egg-info gateway-demo.sqlite3*
