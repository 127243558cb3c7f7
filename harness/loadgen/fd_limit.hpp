// File descriptors: one socket per connection, plus what the process and its event loops use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace memgate::loadgen {

// Descriptors loadgen needs beside its sockets: stdio, per event loop an epoll, an eventfd
// and a timerfd, the resolver's socket, a little slack.
inline constexpr std::uint64_t fd_reserve = 32;

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the soft limit in force after.
std::uint64_t raise_open_file_limit() noexcept;

// Why `connections` cannot fit under `soft_limit` (naming both numbers), or nullopt.
std::optional<std::string> fd_budget_error(std::uint64_t connections, std::uint64_t soft_limit);

}  // namespace memgate::loadgen
