# Every memgate build option lives here.
set(MEMGATE_ALLOCATORS "glibc;jemalloc;mimalloc" CACHE STRING
    "Which refserver-<allocator> binaries to build (subset of glibc;jemalloc;mimalloc)")
option(MEMGATE_WERROR "Treat compiler warnings as errors" OFF)
option(MEMGATE_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(MEMGATE_BUILD_TESTS "Build the GoogleTest unit tests" ON)
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

if(MEMGATE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(MEMGATE_DEBUG_INFO STREQUAL "g1" OR MEMGATE_DEBUG_INFO STREQUAL "g")
  # Not in Debug/RelWithDebInfo: they carry full -g already, and a later -g1 would lower it.
  # Source paths in the DWARF relative to the tree: with -g, ccache hashes the working directory
  # after applying this map, so another checkout (CCACHE_BASEDIR in ci/build.sh) still hits the cache.
  add_compile_options("$<$<CONFIG:Release,MinSizeRel>:-${MEMGATE_DEBUG_INFO};-fdebug-prefix-map=${CMAKE_SOURCE_DIR}=.>")
elseif(NOT MEMGATE_DEBUG_INFO STREQUAL "none")
  message(FATAL_ERROR "MEMGATE_DEBUG_INFO: unknown value '${MEMGATE_DEBUG_INFO}' (none, g1 or g)")
endif()
