# Two commands do all the set-up:  `make demo` (deblur a real sample clip)  and  `make test`.
# Both create .venv (Python >= 3.12, which VapourSynth R81 needs) and install vs-dvd into it.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The first Python >= 3.12 found: $(PYTHON), python3.13, python3.12, or pyenv's 3.12.
PYTHON ?= $(shell for p in python3.13 python3.12 "env PYENV_VERSION=3.12.1 python3.12"; do \
            $$p -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: demo test install clean

demo: $(STAMP)
	$(PY) demo/run.py

test: $(STAMP)
	$(PY) -m pytest

install: $(STAMP)

$(STAMP): setup.py pyproject.toml
	@command -v ffmpeg >/dev/null || { echo "installing ffmpeg (Debian)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; }
	@test -n "$(PYTHON)" || { echo "error: vs-dvd needs Python >= 3.12 (VapourSynth R81); install one or pass PYTHON=/path/to/python3.12"; exit 1; }
	@test -x $(PY) || { free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); test $$free -ge 7 || { \
	  echo "error: the set-up needs about 8 GB free here (PyTorch's CUDA build is most of .venv's 6.6 GB); $$free GB free"; exit 1; }; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[ov,cuda,trt,align,fleet]' --group test
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info out
