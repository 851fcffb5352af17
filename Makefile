# vla-agent-bench developer entry points.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

# Headless offscreen rendering by default; override with e.g. MUJOCO_GL=osmesa.
MUJOCO_GL ?= egl
export MUJOCO_GL

.PHONY: setup run demo playground lint browser test test-fast test-xvla xvla-env e2e-vs-tools modular-vs-e2e bench clean

setup: $(STAMP)
	$(PY) scripts/check_gl.py

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-install only when the dependency spec changes (or the venv is new).
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) install -q -c constraints.txt -e '.[dev,viz,browser]'
	# openpi's own client, for the interoperability tests only: without its numpy<2 pin (its modules run on numpy 2)
	$(PIP) install -q --no-deps openpi-client==0.1.2
	touch $@

run: setup
	$(PY) -m eval.run

demo: setup
	$(PY) -m eval.demo

# The playground page on http://127.0.0.1:7860 (PLAYGROUND_ARGS="--port 8000 --results results/runs", ...).
playground: setup
	$(PY) -m eval.playground $(PLAYGROUND_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

# The browser tests drive Debian's chromium (never `playwright install`, which downloads from elsewhere):
# installed with apt-get where we are root or have sudo, else those tests skip with one line saying why.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi; \
		if [ "$$sudo" != none ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's chromium for the browser tests (apt-get install chromium)"; \
			$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
			{ $$sudo apt-get update -q >/dev/null 2>&1 && \
			  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } || \
			echo "could not install chromium: the browser tests will skip"; \
		else echo "no /usr/bin/chromium and no root, sudo or apt-get to install it: the browser tests will skip"; fi; \
	fi

test: lint browser
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m 'not slow'

bench: setup
	$(PY) scripts/bench_env.py
	$(PY) scripts/bench_eval.py
	$(PY) scripts/bench_factors.py

# Optional LeRobot / X-VLA environment: Python 3.12 (LeRobot 0.6.1 needs it), about 6 GB, offline tests.
# Python 3.12: PYTHON312=..., else python3.12 on PATH, else pyenv's (installed with pyenv if missing).
PYTHON312 ?= $(shell for p in python3.12 $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.12*/bin/python; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { command -v $$p; break; }; done)
XVLA_VENV := .venv-xvla

$(XVLA_VENV)/.installed: pyproject.toml constraints-xvla.txt
	@py="$(PYTHON312)"; \
	if [ -z "$$py" ] && command -v pyenv >/dev/null; then \
		echo "no Python 3.12 found: pyenv install 3.12"; pyenv install --skip-existing 3.12 && \
		py="$$(pyenv root)/versions/$$(pyenv latest 3.12)/bin/python"; fi; \
	test -n "$$py" || { echo "test-xvla needs Python 3.12 (python3.12 on PATH, pyenv, or PYTHON312=/path/to/python3.12)"; exit 1; }; \
	test -x $(XVLA_VENV)/bin/python || { echo "$$py -m venv $(XVLA_VENV)"; $$py -m venv $(XVLA_VENV); }
	$(XVLA_VENV)/bin/pip install -q -c constraints-xvla.txt -e '.[xvla,dev]'
	touch $@

xvla-env: $(XVLA_VENV)/.installed

test-xvla: $(XVLA_VENV)/.installed
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(XVLA_VENV)/bin/python -m pytest -q tests_xvla

# Demonstrations -> two ACT policies -> the camera sweep -> results/e2e-vs-tools (about 1.5 h on 2 cores).
e2e-vs-tools: $(XVLA_VENV)/.installed
	PY=$(XVLA_VENV)/bin/python bash scripts/e2e_vs_tools.sh

# The learned pointer + tools vs ACT on the same demonstrations and CPU budget -> results/modular-vs-e2e
# (resumable: on a clone it records again, trains ACT again to the published sha256 (the pointers' weights are in
# git) and runs only the cells not committed under results/modular-vs-e2e/runs; 312 cells, about 100 s each for ACT).
modular-vs-e2e: $(XVLA_VENV)/.installed
	PY=$(XVLA_VENV)/bin/python bash scripts/modular_vs_e2e.sh

clean:
	rm -rf $(VENV) $(XVLA_VENV) results/runs outputs
