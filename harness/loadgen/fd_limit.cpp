#include "fd_limit.hpp"

#include <sys/resource.h>

namespace memgate::loadgen {

std::uint64_t raise_open_file_limit() noexcept {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;  // an infinite hard limit may be refused
  }
  return lim.rlim_cur;
}

std::optional<std::string> fd_budget_error(std::uint64_t connections, std::uint64_t soft_limit) {
  if (connections + fd_reserve <= soft_limit) return std::nullopt;
  return "--connections " + std::to_string(connections) + " needs " + std::to_string(connections + fd_reserve) +
         " file descriptors but the limit is " + std::to_string(soft_limit) +
         " (RLIMIT_NOFILE, raised to its hard limit; see ulimit -Hn)";
}

}  // namespace memgate::loadgen
