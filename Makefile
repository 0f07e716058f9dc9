# Quantum Realm — the two commands: `make run` (the main job) and `make test` (the whole suite).
# Both install what is missing first: Debian packages with apt-get when root (otherwise they print
# the exact apt-get line and stop), and the Python packages the interop tests drive us with.

SHELL := /bin/bash
DEBIAN_PACKAGES := pkg-config libzmq3-dev libusb-1.0-0-dev libgpiod-dev python3 python3-pip protobuf-compiler
PYTHON := python3
PY_REQUIREMENTS := Tests/Interop/requirements.txt
SWIFT_TEST_FLAGS ?=

.PHONY: run test build deps debian-deps python-deps bench clean-bench telemetry-schema

# The main job: the demo station (HardwareProfiles/stations/demo.yaml) on the in-process emulator. Results
# (JSON, SVG plots, summary) go to results/<date-time>/. STATION=<file> runs another station.
STATION ?= HardwareProfiles/stations/demo.yaml
run: debian-deps
	swift build --product qrrm
	swift run --skip-build qrrm run --station $(STATION)

# The ledger's tests run on SQLite and on PostgreSQL: Tests/support/postgres.sh installs and starts a local
# server when there is none, and prints the URL they connect to.
test: debian-deps python-deps
	swift build --build-tests
	url=$$(Tests/support/postgres.sh) && QRRM_TEST_POSTGRES_URL=$$url swift test --skip-build $(SWIFT_TEST_FLAGS)

build: debian-deps
	swift build

deps: debian-deps python-deps

debian-deps:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "Missing Debian packages. Run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

python-deps:
	@if ! $(PYTHON) -c 'import sys, importlib.metadata as m; [m.version(l.split("==")[0].split(">=")[0].strip()) for l in open("$(PY_REQUIREMENTS)") if l.strip() and not l.startswith("#")]' 2>/dev/null; then \
	  echo "Installing Python packages from $(PY_REQUIREMENTS)"; \
	  $(PYTHON) -m pip install -q -r $(PY_REQUIREMENTS) 2>/dev/null \
	    || $(PYTHON) -m pip install -q --break-system-packages -r $(PY_REQUIREMENTS); \
	fi

bench: debian-deps
	Benchmarks/run.sh

# Regenerates Sources/Telemetry/Generated/telemetry.pb.swift from the schema (commit the result).
# Builds swift-protobuf's protoc plugin from the resolved checkout, in a scratch folder of its own.
telemetry-schema: debian-deps
	swift package resolve
	swift build --package-path .build/checkouts/swift-protobuf --scratch-path .build-protoc-gen-swift --product protoc-gen-swift
	protoc --plugin=protoc-gen-swift=.build-protoc-gen-swift/debug/protoc-gen-swift --swift_opt=Visibility=Public \
	  --swift_out=Sources/Telemetry/Generated -I Sources/Telemetry/Schema telemetry.proto
