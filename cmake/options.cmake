# Every memgate build option lives here.
set(MEMGATE_ALLOCATORS "glibc;jemalloc;mimalloc" CACHE STRING
    "Which refserver-<allocator> binaries to build (subset of glibc;jemalloc;mimalloc)")
option(MEMGATE_WERROR "Treat compiler warnings as errors" OFF)
option(MEMGATE_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(MEMGATE_BUILD_TESTS "Build the GoogleTest unit tests" ON)

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
