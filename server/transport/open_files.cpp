#include "transport/open_files.hpp"

#include <sys/resource.h>

namespace memgate::transport {

std::uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised{limit.rlim_max, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur;
}

std::optional<std::string> open_file_limit_warning(std::uint64_t max_connections, unsigned threads,
                                                   std::uint64_t open_file_limit) {
  const std::uint64_t needed = max_connections + descriptors_besides_connections(threads);
  if (needed <= open_file_limit) return std::nullopt;
  return "refserver: warning: --max-connections=" + std::to_string(max_connections) + " needs about " +
         std::to_string(needed) + " file descriptors, but RLIMIT_NOFILE allows " + std::to_string(open_file_limit) +
         " (hard limit); accepts past that fail until connections close";
}

}  // namespace memgate::transport
