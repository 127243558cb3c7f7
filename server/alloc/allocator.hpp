#pragma once
// The allocator seam. Each refserver-<allocator> binary links exactly one
// implementation (glibc.cpp, jemalloc.cpp, mimalloc.cpp); nothing else in the
// server knows which allocator it runs on.
#include <boost/json/object.hpp>
#include <string_view>

namespace memgate::alloc {

std::string_view name();
std::string version();

// Returns what this thread's cache holds to the allocator; run on every worker
// thread before trim_process(), since thread caches are per thread.
void trim_this_thread();

// Process-wide purge of free memory back to the OS.
void trim_process();

// The allocator's own figures, keys as the allocator names them.
boost::json::object native_stats();

}  // namespace memgate::alloc
