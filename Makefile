# The README's two commands. Each sets up whatever is missing on a fresh Debian 12 or
# Raspberry Pi OS (Bookworm) machine, then runs.
#   make run    start the kiosk on simulated hardware (a Pi runs the systemd units instead)
#   make test   run the test suite

SHELL := /bin/bash
VENV := .venv
UV_HOME := .uv
UV := $(shell command -v uv 2>/dev/null || echo $(UV_HOME)/bin/uv)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: zbar for the QR fallback decoder; EGL/GLES and Mesa for Kivy (its wheel
# bundles SDL2; on a machine without a screen it renders offscreen through Mesa's llvmpipe).
APT_PACKAGES := libzbar0 libegl1 libgles2 libgl1-mesa-dri
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test system-deps env env-dev bench lint soak

run: env
	$(VENV)/bin/kiosk sim

# One worker per core (pytest-xdist); each Kivy window module is one item that runs in a
# process of its own, and idle workers take work from busy ones.
test: env-dev
	$(VENV)/bin/ruff check kiosk drivers tests bench
	$(VENV)/bin/pytest -n 2 --dist worksteal

lint: env-dev
	$(VENV)/bin/ruff check kiosk drivers tests bench

bench: env-dev
	$(VENV)/bin/python bench/qr_decoders.py
	$(VENV)/bin/python bench/thermometer_read.py
	$(VENV)/bin/python bench/core_bench.py
	$(VENV)/bin/python bench/ui_bench.py
	$(VENV)/bin/python bench/sync_bench.py

# A simulated week of the whole post (core, hq, guests, guards, faults) in about 11 minutes.
soak: env-dev
	$(VENV)/bin/python bench/soak.py --days 7 --speed 1000 --doc

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	python3 -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(UV):
	python3 -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install -q uv

env: system-deps $(UV)
	$(UV) sync --frozen --inexact -p 3.11 -q

env-dev: system-deps $(UV)
	$(UV) sync --frozen --extra dev --extra hq -p 3.11 -q
