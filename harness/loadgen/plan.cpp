#include "plan.hpp"

#include <numeric>

namespace memgate::loadgen {
namespace {

nghttp2_nv make_nv(const std::string& name, const std::string& value) {
  // nghttp2_nv takes non-const pointers but never writes through them with NO_COPY flags.
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

// What the responses of the URL at `index` must be, by --verify.
body_expectation expectation_of(const options& o, std::size_t index, std::uint64_t upload_bytes,
                                digest_reference& digest) {
  using kind = body_expectation::kind;
  switch (o.verify) {
    case verify_mode::pattern:
      return expectation_for(o.urls[index].target, o.method == http_method::post, upload_bytes);
    case verify_mode::status:
      return {};
    case verify_mode::length:
      return {kind::exact_length, o.expect_lengths[index], 0, nullptr};
    case verify_mode::digest:
      return {kind::digest, 0, 0, &digest};
  }
  return {};
}

}  // namespace

std::vector<std::uint32_t> smooth_weighted_cycle(const std::vector<std::uint32_t>& weights) {
  const std::uint64_t total = std::accumulate(weights.begin(), weights.end(), std::uint64_t{0});
  std::vector<std::int64_t> current(weights.size(), 0);
  std::vector<std::uint32_t> cycle;
  cycle.reserve(total);
  for (std::uint64_t step = 0; step < total; ++step) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= static_cast<std::int64_t>(total);
    cycle.push_back(static_cast<std::uint32_t>(best));
  }
  return cycle;
}

plan::plan(const options& opts)
    : opts_(opts),
      digests_(std::make_unique<digest_reference[]>(opts.urls.size())),
      cycle_(smooth_weighted_cycle(opts.weights)) {
  const url& first = opts_.urls.front();
  const bool v6 = first.host.find(':') != std::string::npos;
  authority_ = (v6 ? "[" + first.host + "]" : first.host) + ":" + std::to_string(first.port);
  const bool post = opts_.method == http_method::post;

  requests_.reserve(opts_.urls.size());
  for (std::size_t i = 0; i < opts_.urls.size(); ++i) {
    const url& u = opts_.urls[i];
    request_template r;
    r.target = u.target;
    r.post = post;
    r.body_bytes = post ? opts_.upload_bytes : 0;
    r.expect = expectation_of(opts_, i, r.body_bytes, digests_[i]);
    r.h1_head = std::string(post ? "POST " : "GET ") + u.target + " HTTP/1.1\r\nHost: " + authority_ +
                "\r\nUser-Agent: memgate-loadgen\r\n";
    if (post) {
      r.h1_head += "Content-Type: application/octet-stream\r\nContent-Length: " + std::to_string(r.body_bytes) + "\r\n";
    }
    r.h1_head += "\r\n";
    // Strings first (their addresses must not move), then the nv array pointing into them.
    r.h2_strings = {":method", post ? "POST" : "GET", ":scheme", u.scheme, ":authority", authority_,
                    ":path", u.target, "user-agent", "memgate-loadgen"};
    if (post) {
      r.h2_strings.push_back("content-length");
      r.h2_strings.push_back(std::to_string(r.body_bytes));
    }
    requests_.push_back(std::move(r));
    auto& placed = requests_.back();
    for (std::size_t i = 0; i + 1 < placed.h2_strings.size(); i += 2) {
      placed.h2_headers.push_back(make_nv(placed.h2_strings[i], placed.h2_strings[i + 1]));
    }
  }
}

std::optional<run_control::ticket> run_control::acquire(bool first) noexcept {
  std::uint64_t seq = next_.load(std::memory_order_relaxed);
  if (firsts_pending_.load(std::memory_order_relaxed) == 0 && !first) {
    seq = next_.fetch_add(1, std::memory_order_relaxed);
  } else {
    // A stale (too high) firsts_pending_ only refuses early; the first-taker that made it stale
    // is alive and asks again, so no ticket is stranded.
    do {
      if (seq >= planned_) return std::nullopt;
      if (!first && planned_ - seq <= firsts_pending_.load(std::memory_order_relaxed)) return std::nullopt;
    } while (!next_.compare_exchange_weak(seq, seq + 1, std::memory_order_relaxed));
    if (first) firsts_pending_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (seq >= planned_) {
    return std::nullopt;
  }
  clock::time_point due = start_;
  if (rate_ > 0) {
    due += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(static_cast<double>(seq) / rate_));
  }
  return ticket{seq, due};
}

}  // namespace memgate::loadgen
