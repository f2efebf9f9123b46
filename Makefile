# e2ee: the commands of README.md. Each target installs missing Debian packages first
# (scripts/deps.sh, apt-get as root), then drives CMake.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
VALGRIND_BUILD ?= build-valgrind
FUZZ_SECONDS ?= 300
SOAK_SECONDS ?= 1800
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build test asan valgrind soak fuzz fuzz-smoke fuzz-build bench demo clean

all: build

deps:
	@sh scripts/deps.sh test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DE2EE_SANITIZE=ON -DE2EE_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# The integration tests (and the relays and programs they start) under valgrind memcheck, in a
# Debug build without sanitizers; scripts/valgrind.sh says what fails a test.
valgrind:
	@sh scripts/deps.sh valgrind
	cmake -S . -B $(VALGRIND_BUILD) -DCMAKE_BUILD_TYPE=Debug -DE2EE_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(VALGRIND_BUILD) -j $(JOBS)
	sh scripts/valgrind.sh $(VALGRIND_BUILD)

# 500 clients with churn against a relay it spawns, for SOAK_SECONDS (tools/soak/soak.c says
# what passes); CI runs `make soak SOAK_SECONDS=60`.
soak: build
	$(BUILD)/bin/e2ee-soak --clients 500 --seconds $(SOAK_SECONDS)

# libFuzzer targets (clang, ASan + UBSan): each runs FUZZ_SECONDS; fuzz-smoke runs each 20 s.
fuzz-build:
	@sh scripts/deps.sh fuzz
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DE2EE_FUZZ=ON -DE2EE_BUILD_TESTS=OFF -DE2EE_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all

fuzz: fuzz-build
	sh fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	sh fuzz/run.sh $(FUZZ_BUILD) 20

bench: build
	sh scripts/bench.sh $(BUILD)

demo:
	@sh scripts/deps.sh demo
	$(MAKE) build
	sh scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(VALGRIND_BUILD)
