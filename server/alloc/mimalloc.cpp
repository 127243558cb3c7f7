#include "alloc/allocator.hpp"

#include <mimalloc.h>

#include <string>

namespace memgate::alloc {

std::string_view name() { return "mimalloc"; }

std::string version() {
  const int v = mi_version();  // e.g. 209 for 2.0.9
  return std::to_string(v / 100) + "." + std::to_string((v / 10) % 10) + "." + std::to_string(v % 10);
}

// mi_collect works on the calling thread's heap, so every worker runs it.
void trim_this_thread() { mi_collect(true); }

void trim_process() { mi_collect(true); }

boost::json::object native_stats() {
  std::size_t elapsed_ms = 0, user_ms = 0, system_ms = 0, current_rss = 0, peak_rss = 0;
  std::size_t current_commit = 0, peak_commit = 0, page_faults = 0;
  mi_process_info(&elapsed_ms, &user_ms, &system_ms, &current_rss, &peak_rss, &current_commit,
                  &peak_commit, &page_faults);
  boost::json::object stats;
  // mimalloc 2.0 reports committed memory under its "rss" names; name it honestly.
  stats["committed_bytes"] = current_commit;
  stats["peak_committed_bytes"] = peak_commit;
  stats["page_faults"] = page_faults;
  return stats;
}

}  // namespace memgate::alloc
