# Debian packages: libboost1.81-dev libboost-json1.81-dev libnghttp2-dev libssl-dev
# libjemalloc-dev libmimalloc-dev libgtest-dev zlib1g-dev (ci/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS json program_options)
find_package(OpenSSL 3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2>=1.52)

if("jemalloc" IN_LIST MEMGATE_ALLOCATORS)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
endif()
if("mimalloc" IN_LIST MEMGATE_ALLOCATORS)
  find_library(MIMALLOC_LIBRARY NAMES mimalloc REQUIRED)
  find_path(MIMALLOC_INCLUDE_DIR mimalloc.h REQUIRED)
endif()
if(MEMGATE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# Header-only Boost parts used everywhere (Asio, Beast) come with Boost::headers.
add_library(memgate_deps INTERFACE)
target_link_libraries(memgate_deps INTERFACE Boost::headers Boost::json Threads::Threads)
target_compile_definitions(memgate_deps INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW
  # Asio keeps freed operation blocks per thread for reuse, two by default. Every socket
  # operation and every timer wait Beast starts (one per read deadline and write step) shares
  # them: with two, a few connections' waits cancelled in a row overflowed the cache and about
  # one h1 request in three reached the heap (4 connections); with eight, one in thirty.
  # The same value in every translation unit of a binary: it sizes a per-thread structure.
  BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=8)
