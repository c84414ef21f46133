# Thin wrapper over CMake with build/ as the build folder. Every target installs missing
# Debian packages first (tools/deps/install.sh), then configures and builds as needed.
# make sanitize and make fuzz use their own folders (docs/robustness.md).
BUILD ?= build
SAN_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
PY := /usr/bin/python3
SECONDS ?= 60
FUZZ_TARGETS := fuzz_load fuzz_session fuzz_run
# Succeeds when clang can link a libFuzzer target (clang and libclang-rt-14-dev).
CAN_LIBFUZZER = echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) \
	{ return d && n; }' | clang -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null

.PHONY: all deps ort configure build check demo install conformance bench clean sanitize fuzz \
	fuzz-build fuzz-check fuzz-graphs tsan precision-report loadtest

all: build

deps:
	@tools/deps/install.sh

$(BUILD)/CMakeCache.txt:
	@tools/deps/install.sh
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j$(JOBS)

# ONNX Runtime (npm onnxruntime-node, the version tools/deps/ort.sh names) into $(BUILD)/node:
# the oracle of the tests that compare with it (they report SKIPPED without it).
ort:
	-@tools/deps/ort.sh $(BUILD)

# The test suite, then the same under ASan + UBSan, then a few seconds of each fuzz target.
check: build ort
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory sanitize
	@$(MAKE) --no-print-directory fuzz-check

$(SAN_BUILD)/CMakeCache.txt:
	@tools/deps/install.sh
	cmake -S . -B $(SAN_BUILD) $(CMAKE_FLAGS) -DONDINE_SANITIZE=ON

# The whole test suite built with -fsanitize=address,undefined -fno-sanitize-recover=all, but
# the Python tests: an ASan library cannot be loaded into an uninstrumented python3.
sanitize: deps $(SAN_BUILD)/CMakeCache.txt
	cmake --build $(SAN_BUILD) -j$(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure -j$(JOBS) -LE python

$(FUZZ_BUILD)/CMakeCache.txt:
	@tools/deps/install.sh
	CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_FLAGS) -DONDINE_FUZZ=ON

fuzz-build: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target $(FUZZ_TARGETS)

# make fuzz SECONDS=N: each libFuzzer target N seconds on its kept corpus.
fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(SECONDS)

# Regression files and a short run of each target from the seeds, as ctests.
fuzz-check:
	@if $(CAN_LIBFUZZER); then \
		$(MAKE) --no-print-directory fuzz-build && \
		cd $(FUZZ_BUILD) && ctest --output-on-failure -L '^fuzz$$'; \
	else \
		echo "fuzz smoke tests skipped: clang cannot link libFuzzer (install clang," \
			"libclang-rt-14-dev)"; \
	fi

# make fuzz-graphs SECONDS=N: the graph fuzzer (tests/graphfuzz) on new seeds for N seconds:
# graphs tried, failures shrunk and saved under $(BUILD)/graphfuzz/failures. ONNX Runtime joins
# when $(BUILD)/node has onnxruntime-node (make bench installs it).
fuzz-graphs: build
	PYTHONPATH=python ONDINE_LIBRARY=$(BUILD)/lib/libondine.so \
		GRAPHFUZZ_REF=$(BUILD)/lib/libgraphfuzz_ref.so \
		GRAPHFUZZ_NODE_PATH=$(abspath $(BUILD))/node/node_modules OMP_WAIT_POLICY=PASSIVE \
		$(PY) tests/graphfuzz/fuzz.py --seconds $(SECONDS) --out $(BUILD)/graphfuzz

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

# ondine serve under load: 16 clients for 60 s each with and without dynamic batching
# (tools/loadtest.py; docs/serving.md). LOADTEST_SECONDS shortens it.
LOADTEST_SECONDS ?= 60
loadtest: build
	$(PY) tools/loadtest.py $(BUILD)/bin/ondine examples/models/resnet20_fashion.onnx \
		--clients 16 --seconds $(LOADTEST_SECONDS)

# Accuracy of bf16 and int8 sessions against fp32 (Fashion-MNIST, torchvision models with random
# weights, exported on first use): rewrites the generated section of docs/precision.md. Slow
# (minutes on 2 cores), so not part of check.
precision-report: build
	OMP_WAIT_POLICY=PASSIVE $(PY) tools/precision_report.py $(BUILD) --write docs/precision.md

install: build
	cmake --install $(BUILD)

# ThreadSanitizer on test_concurrency: clang and its OpenMP (libomp, which also serves
# oneDNN's GOMP calls) with the Archer tool, so that OpenMP's own synchronization is seen.
ARCHER = $(dir $(realpath $(shell command -v clang)))../lib/libarcher.so
tsan: deps
	CC=clang cmake -S . -B $(TSAN_BUILD) $(CMAKE_FLAGS) -DCMAKE_C_FLAGS=-fsanitize=thread \
		-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target test_concurrency
	TSAN_OPTIONS=ignore_noninstrumented_modules=1:halt_on_error=1 \
		OMP_TOOL_LIBRARIES=$(ARCHER) $(TSAN_BUILD)/bin/test_concurrency

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
