#!/usr/bin/env bash
# Configures and builds one sanitizer build, glibc allocator only (jemalloc and mimalloc
# replace malloc, which the sanitizer must own):
#   address  build-asan/ ($MEMGATE_ASAN_BUILD_DIR): clang, ASan + UBSan, the unit tests and
#            the libFuzzer targets: one build serves the unit tests, the end-to-end runs and
#            the fuzzers;
#   thread   build-tsan/ ($MEMGATE_TSAN_BUILD_DIR): gcc, TSan, the unit tests.
# Both sanitizers own malloc: live heap is fed by their allocator's hooks, not by the interposed
# malloc family (harness/heapshim/sanitizer_feed.c), and there is no heap shim.
# Prints the build directory as its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kind=${1:?usage: build.sh address|thread}

case $kind in
  address)
    build_dir=${MEMGATE_ASAN_BUILD_DIR:-$root/build-asan}
    for tool in clang clang++; do
      command -v "$tool" >/dev/null ||
        { echo "sanitizers: $tool not found (Debian: clang libclang-rt-14-dev; ci/setup.sh installs them)" >&2; exit 2; }
    done
    CC=clang CXX=clang++ MEMGATE_BUILD_DIR=$build_dir bash "$root/ci/build.sh" \
      -DMEMGATE_FUZZ=ON -DMEMGATE_ALLOCATORS=glibc >&2
    ;;
  thread)
    build_dir=${MEMGATE_TSAN_BUILD_DIR:-$root/build-tsan}
    CC=gcc CXX=g++ MEMGATE_BUILD_DIR=$build_dir bash "$root/ci/build.sh" \
      -DMEMGATE_SANITIZE=thread -DMEMGATE_ALLOCATORS=glibc >&2
    ;;
  *) echo "sanitizers: unknown kind '$kind' (address or thread)" >&2; exit 2 ;;
esac
echo "$build_dir"
