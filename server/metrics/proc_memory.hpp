#pragma once
// Resident memory as the kernel accounts it. /proc/self/smaps_rollup is the
// source of truth: allocators' own "rss" figures (mimalloc 2.0) report commit.
#include <cstdint>
#include <optional>
#include <string_view>

namespace memgate::metrics {

struct resident_memory {
  std::int64_t rss_bytes = 0;
  std::int64_t anonymous_bytes = 0;
};

// Parses smaps_rollup text; nullopt when the Rss or Anonymous line is missing.
std::optional<resident_memory> parse_smaps_rollup(std::string_view text);
// Value of a "Key:   N kB" line in /proc/<pid>/status text, in bytes.
std::optional<std::int64_t> parse_status_kb(std::string_view text, std::string_view key);

resident_memory read_resident_memory();
std::int64_t read_peak_rss_bytes();

}  // namespace memgate::metrics
