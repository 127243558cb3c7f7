#pragma once
// RLIMIT_NOFILE: every connection is one descriptor, and the usual soft limit (1024)
// would make --max-connections a lie long before the server's own limit.
#include <cstdint>
#include <optional>
#include <string>

namespace memgate::transport {

// Descriptors the process needs besides one per connection: stdio, the listener, each
// worker's epoll, eventfd and timerfd, /proc reads for /mem.
constexpr std::uint64_t descriptors_besides_connections(unsigned threads) { return 32 + 3ull * threads; }

// Raises the soft limit to the hard limit; returns the soft limit now in force.
std::uint64_t raise_open_file_limit();

// A warning naming both numbers when `max_connections` cannot all be open at once.
std::optional<std::string> open_file_limit_warning(std::uint64_t max_connections, unsigned threads,
                                                   std::uint64_t open_file_limit);

}  // namespace memgate::transport
