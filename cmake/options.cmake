# Every memgate build option lives here.
set(MEMGATE_ALLOCATORS "glibc;jemalloc;mimalloc" CACHE STRING
    "Which refserver-<allocator> binaries to build (subset of glibc;jemalloc;mimalloc)")
option(MEMGATE_WERROR "Treat compiler warnings as errors" OFF)
set(MEMGATE_SANITIZE "none" CACHE STRING "Sanitizer build: none, address (ASan + UBSan) or thread (TSan)")
set_property(CACHE MEMGATE_SANITIZE PROPERTY STRINGS none address thread)
if(MEMGATE_SANITIZE STREQUAL "OFF")  # a build dir from when this was an ON/OFF option
  set_property(CACHE MEMGATE_SANITIZE PROPERTY VALUE none)
endif()
option(MEMGATE_BUILD_TESTS "Build the GoogleTest unit tests" ON)
option(MEMGATE_FUZZ "Also build the libFuzzer targets (clang only; implies MEMGATE_SANITIZE=address)" OFF)
# Debug info in optimized builds, for the profilers (heaptrack, jemalloc prof + addr2line): g1 is
# line tables plus inlined-frame DIEs (file:line and inlined callers such as strategy::fresh_buffer),
# g is full DWARF (locals and types too), none is the old stripped-of-DWARF Release.
set(MEMGATE_DEBUG_INFO "g1" CACHE STRING "Debug info in Release/MinSizeRel builds: none, g1 or g")
set_property(CACHE MEMGATE_DEBUG_INFO PROPERTY STRINGS none g1 g)

set(_memgate_known_allocators glibc jemalloc mimalloc)
foreach(_alloc IN LISTS MEMGATE_ALLOCATORS)
  if(NOT _alloc IN_LIST _memgate_known_allocators)
    message(FATAL_ERROR "MEMGATE_ALLOCATORS: unknown allocator '${_alloc}' (known: ${_memgate_known_allocators})")
  endif()
endforeach()

if(MEMGATE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MEMGATE_FUZZ needs clang (CC=clang CXX=clang++), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  # A fuzzer without ASan and UBSan finds only crashes: the fuzz build is the sanitizer build,
  # plus coverage instrumentation everywhere and libFuzzer's main in the fuzz_* targets.
  if(MEMGATE_SANITIZE STREQUAL "thread")
    message(FATAL_ERROR "MEMGATE_FUZZ runs under ASan + UBSan, not MEMGATE_SANITIZE=thread")
  endif()
  set(MEMGATE_SANITIZE address)
  add_compile_options(-fsanitize=fuzzer-no-link)
  set(MEMGATE_FUZZ_TARGET_FLAGS -fsanitize=fuzzer)
endif()

if(MEMGATE_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(MEMGATE_SANITIZE STREQUAL "thread")
  # -Wno-tsan: gcc 12 warns that TSan cannot model std::atomic_thread_fence, which Asio's
  # completion handlers use; the fences pair with atomics TSan does see.
  add_compile_options(-fsanitize=thread -Wno-tsan)
  add_link_options(-fsanitize=thread)
elseif(NOT MEMGATE_SANITIZE STREQUAL "none")
  message(FATAL_ERROR "MEMGATE_SANITIZE: '${MEMGATE_SANITIZE}' is none of none, address, thread")
endif()
if(NOT MEMGATE_SANITIZE STREQUAL "none")
  # Either sanitizer's allocator stands in for glibc's (one macro for gcc and clang, where
  # clang 14 has no __SANITIZE_ADDRESS__): no malloc_trim, no trim test.
  add_compile_definitions(MEMGATE_SANITIZER_OWNS_MALLOC)
endif()

if(MEMGATE_DEBUG_INFO STREQUAL "g1" OR MEMGATE_DEBUG_INFO STREQUAL "g")
  # Not in Debug/RelWithDebInfo: they carry full -g already, and a later -g1 would lower it.
  # Source paths in the DWARF relative to the tree: with -g, ccache hashes the working directory
  # after applying this map, so another checkout (CCACHE_BASEDIR in ci/build.sh) still hits the cache.
  add_compile_options("$<$<CONFIG:Release,MinSizeRel>:-${MEMGATE_DEBUG_INFO};-fdebug-prefix-map=${CMAKE_SOURCE_DIR}=.>")
elseif(NOT MEMGATE_DEBUG_INFO STREQUAL "none")
  message(FATAL_ERROR "MEMGATE_DEBUG_INFO: unknown value '${MEMGATE_DEBUG_INFO}' (none, g1 or g)")
endif()
