# Thin wrapper over CMake with build/ as the build folder. Every target installs missing
# Debian packages first (tools/deps/install.sh), then configures and builds as needed.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
PY := /usr/bin/python3

.PHONY: all deps configure build check demo install conformance bench clean

all: build

deps:
	@tools/deps/install.sh

$(BUILD)/CMakeCache.txt:
	@tools/deps/install.sh
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j$(JOBS)

check: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	tools/demo.sh $(BUILD)

# The whole conformance sweep (hours on 2 cores): the ONNX backend suites and every exported
# model, then docs/conformance.md from the reports (tools/conformance.py).
conformance: build
	$(PY) tools/conformance.py --ondine $(BUILD)/bin/ondine --out $(BUILD)/conformance --clean \
		--table docs/conformance.md

# ondine against ONNX Runtime (npm onnxruntime-node in $(BUILD)/node), same run, same threads.
bench: build
	$(PY) tools/bench/compare.py $(BUILD) --json $(BUILD)/bench.json --table $(BUILD)/bench_table.md

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
