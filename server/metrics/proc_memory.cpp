#include "metrics/proc_memory.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace memgate::metrics {
namespace {

std::optional<std::int64_t> kb_field(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') continue;
    std::string_view rest = line.substr(key.size() + 1);
    const std::size_t digits = rest.find_first_of("0123456789");
    if (digits == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(digits);
    std::int64_t kb = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kb);
    if (ec != std::errc{}) return std::nullopt;
    return kb * 1024;
  }
  return std::nullopt;
}

std::string slurp(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<resident_memory> parse_smaps_rollup(std::string_view text) {
  auto rss = kb_field(text, "Rss");
  auto anon = kb_field(text, "Anonymous");
  if (!rss || !anon) return std::nullopt;
  return resident_memory{*rss, *anon};
}

std::optional<std::int64_t> parse_status_kb(std::string_view text, std::string_view key) {
  return kb_field(text, key);
}

resident_memory read_resident_memory() {
  return parse_smaps_rollup(slurp("/proc/self/smaps_rollup")).value_or(resident_memory{-1, -1});
}

std::int64_t read_peak_rss_bytes() {
  return parse_status_kb(slurp("/proc/self/status"), "VmHWM").value_or(-1);
}

}  // namespace memgate::metrics
