# Two commands on a fresh Debian machine:
#   make run    set everything up, start proctorbot with a demo exam day, print the links
#   make test   set everything up, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
# Debian packages the product and its tests use.
APT_PACKAGES := ffmpeg chromium espeak-ng sox libsox-fmt-all tesseract-ocr tesseract-ocr-rus \
	tesseract-ocr-eng fonts-dejavu-core coturn janus janus-tools redis-server postgresql-15
# coturn: the relay-only ICE test starts its own turnserver (tests/conference/test_turn_relay.py)
# janus, janus-tools: the Janus tests start their own Janus (tests/conference/janus_fixture.py)
# redis-server: the work plane's tests start their own (tests/workers/conftest.py)
# postgresql-15: the scale-out tests start throwaway clusters (deploy/services.py)
APT_COMMANDS := ffmpeg ffprobe chromium espeak-ng sox tesseract turnserver janus janus-pp-rec \
	redis-server

.PHONY: run test setup system-packages lint bench clean

run: setup
	$(VENV)/bin/proctorbot serve --demo

# As root, the tests run in a network namespace that has only loopback, so WebRTC
# (browser and bot) can never reach an address outside this machine.
test: setup
	@if [ "$$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then \
		echo "tests run in a loopback-only network namespace"; \
		unshare --net sh -c 'ip link set lo up && exec $(VENV)/bin/python -m pytest $(PYTEST_ARGS)'; \
	else \
		$(VENV)/bin/python -m pytest $(PYTEST_ARGS); \
	fi

setup: system-packages $(VENV)/.installed

system-packages:
	@missing=""; for c in $(APT_COMMANDS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	dpkg -s tesseract-ocr-rus >/dev/null 2>&1 || missing="$$missing tesseract-ocr-rus"; \
	test -x /usr/lib/postgresql/15/bin/initdb || missing="$$missing postgresql-15"; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages (missing:$$missing)"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $(APT_PACKAGES); \
		case "$$missing" in *turnserver*) \
			echo "coturn installed for the tests: its system service is disabled"; \
			$$SUDO systemctl disable --now coturn >/dev/null 2>&1 || true;; esac; \
		case "$$missing" in *janus*) \
			echo "janus installed for the tests: its system service is disabled"; \
			$$SUDO systemctl disable --now janus >/dev/null 2>&1 || true;; esac; \
		case "$$missing" in *redis-server*) \
			echo "redis-server installed for the tests: its system service is disabled"; \
			$$SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true;; esac; \
		case "$$missing" in *postgresql*) \
			echo "postgresql installed for the tests: its system service is disabled"; \
			$$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true;; esac; \
	fi

$(VENV)/.installed: pyproject.toml requirements-nodeps.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel "setuptools<81"
	$(PIP) install -q -e ".[test,postgres]"
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(VENV)/bin/python $$b --json || exit 1; done

clean:
	rm -rf $(VENV) var
