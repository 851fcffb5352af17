# vla-agent-bench developer entry points.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

# Headless offscreen rendering by default; override with e.g. MUJOCO_GL=osmesa.
MUJOCO_GL ?= egl
export MUJOCO_GL

.PHONY: setup run demo test test-fast bench clean

setup: $(STAMP)
	$(PY) scripts/check_gl.py

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-install only when the dependency spec changes (or the venv is new).
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@

run: setup
	$(PY) -m eval.run

demo: setup
	$(PY) -m eval.demo

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m 'not slow'

bench: setup
	$(PY) scripts/bench_env.py
	$(PY) scripts/bench_eval.py

clean:
	rm -rf $(VENV) results/runs outputs
