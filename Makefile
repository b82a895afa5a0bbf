# tradelake — the commands the README uses.
#   make demo   install what is missing, build, run the pipeline offline against the simulator
#   make test   install what is missing, build, run every test
#   make run    the same pipeline against live Coinbase
SHELL := /bin/bash
JOBS ?= 2
PRESET ?= release
BUILD := build/$(PRESET)
TRADELAKE := $(BUILD)/tradelake
LAKE ?= lake

.PHONY: all deps build test test-unit test-sanitize demo run bench fuzz format clean package

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	@scripts/with-moto.sh ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: deps
	@cmake --preset debug >/dev/null
	@# only the unit test binaries: the sanitized run does not need the tool or the benches
	@cmake --build --preset debug -j $(JOBS) --target \
	  $$(for d in src/*/; do ls $$d*_test.cc >/dev/null 2>&1 && echo tl_$$(basename $$d)_tests; done)
	@scripts/with-moto.sh ctest --preset debug -j $(JOBS)

# The AWS Lambda package (provided.al2023): bootstrap, the binary and every
# library it loads, glibc included. See docs/aws.md.
package: build
	@scripts/package.sh $(TRADELAKE) dist/tradelake-lambda.zip

demo: build
	@scripts/demo.sh $(TRADELAKE) demo-lake

run: build
	@scripts/run.sh $(TRADELAKE) $(LAKE)

bench: build
	@cmake --build --preset $(PRESET) -j $(JOBS) --target benches
	@scripts/bench.sh $(BUILD)

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@scripts/fuzz.sh build/fuzz

format:
	@clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf build
