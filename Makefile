# Two commands do all set-up on a fresh machine (Python 3.11 + pip):
#   make demo   simulate a sample and analyse it (no input of yours needed)
#   make test   run the whole test suite
# Both create or reuse .venv and install spermlab into it; both are safe to run twice.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUM    := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
STAMP  := $(VENV)/.installed-core-$(SUM)
TSTAMP := $(VENV)/.installed-test-$(SUM)

.PHONY: demo test install clean

# the core (about a minute): what `make demo` needs
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@rm -f $(VENV)/.installed-core-*; touch $(STAMP)

# the tests also exercise the optional extras: test tools, yolo (Ultralytics + torch,
# ~6 GB taken from this machine's disk, about a minute more) and train (torch + onnx)
$(TSTAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,yolo,train,dask,deep,web]'
	@rm -f $(VENV)/.installed-test-*; touch $(TSTAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/spermlab demo --out demo_out

test: $(TSTAMP)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "note: no chromium (needs root and apt-get); the report's browser test skips, or fails under CI=true"
	$(PY) -m pytest -q -p no:cacheprovider tests

clean:
	rm -rf $(VENV) demo_out
