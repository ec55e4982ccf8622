# The two commands of the README:
#   make demo   set the project up (a virtualenv in .venv) and run `gateway demo`: the product, served with demo data
#   make test   set the project up, run ruff and mypy, and every test (SQLite, and PostgreSQL at 127.0.0.1:5432 in a
#               database each run makes for itself and drops, so two runs on one machine never meet)

VENV ?= .venv
PYTHON ?= python3

.PHONY: demo walkthrough test check bench clean messages

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
# setuptools as new as pyproject's [build-system] asks: tests/test_wheel.py builds the wheel
# without build isolation, with the setuptools of this virtualenv (python3 -m venv brings an old one)
	$(VENV)/bin/pip install --quiet --upgrade pip 'setuptools>=77'
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/gateway demo

# A whole period on a fresh SQLite file, told step by step in the terminal.
walkthrough: $(VENV)/.installed
	$(VENV)/bin/gateway walkthrough

# The static checks, then every test: a finding of ruff or mypy fails the run as a failing test does.
test: check
	$(VENV)/bin/pytest -n auto --dist worksteal

check: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The texts of the pages and the mail: extract them from the code and the templates (babel.cfg), then update each
# language's catalog, whose new entries are then to be translated (gateway/locale/fr/LC_MESSAGES/messages.po).
# The catalogs are read as they are at start (gateway/i18n.py): there is nothing to compile.
LOCALE = gateway/locale
messages: $(VENV)/.installed
	$(VENV)/bin/pybabel extract --mapping-file=babel.cfg --keywords=N_ --no-location --sort-output --width=120 \
		--project=flattr-gateway --copyright-holder="the flattr gateway's authors" --output-file=$(LOCALE)/messages.pot .
	$(VENV)/bin/pybabel update --input-file=$(LOCALE)/messages.pot --output-dir=$(LOCALE) --domain=messages \
		--width=120 --ignore-obsolete --ignore-pot-creation-date

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/settle.py --database sqlite
	$(VENV)/bin/python benchmarks/settle.py --database postgresql

# build/ goes too: setuptools would put an old layout's modules left there into the next wheel.
clean:
	rm -rf $(VENV) *.egg-info build dist gateway-demo.sqlite3* .gateway-demo.sqlite3.*.partial* gateway-walkthrough.sqlite3*
