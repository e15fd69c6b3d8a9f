# Two entry points for a fresh Debian machine: `make demo` and `make test`.
# Each installs what it needs first (apt packages when root, a .venv), so either works from a clean clone.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := pcscd vsmartcard-vpcd libpcsclite-dev softhsm2 libzbar0 fonts-ocr-b gcc python3-dev python3-venv fonts-dejavu-core

.PHONY: install demo test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install.sh
	APT_PACKAGES="$(APT_PACKAGES)" bash scripts/install.sh
	touch $@

demo: install
	$(VENV)/bin/cancuoc demo

lint: install
	$(VENV)/bin/ruff check .

test: install lint
	$(VENV)/bin/python -m pytest -q

bench: install
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
