# Thin wrapper over CMake presets; all logic lives in CMakeLists.txt and scripts/.
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory
CTEST_ARGS ?=
.PHONY: all build test demo bench asan tsan fuzz fmt fmt-check deps clean
all: build
deps:
	@scripts/deps.sh
build: deps
	@cmake --preset release >/dev/null && cmake --build --preset release -j $(JOBS)
test: build
	@ctest --preset release -j $(JOBS) $(CTEST_ARGS)
demo: build
	@scripts/demo.sh build/release/agora
bench: build
	@scripts/bench.sh build/release
asan: deps
	@cmake --preset asan >/dev/null && cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan -j $(JOBS) $(CTEST_ARGS)
tsan: deps
	@cmake --preset tsan >/dev/null && cmake --build --preset tsan -j $(JOBS)
	@ctest --preset tsan -j $(JOBS) $(CTEST_ARGS)
fuzz:
	@scripts/deps.sh clang libfuzzer-14-dev
	@cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j $(JOBS)
	@scripts/fuzz.sh build/fuzz $(or $(FUZZ_SECONDS),60)
# Tracked files and new ones git does not ignore, so a file not yet added is checked too.
FMT_FILES = $$(git ls-files --cached --others --exclude-standard '*.c' '*.h')
fmt:
	@clang-format -i $(FMT_FILES)
fmt-check:
	@clang-format --dry-run -Werror $(FMT_FILES)
clean:
	@rm -rf build
