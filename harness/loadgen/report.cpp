#include "report.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace memgate::loadgen {
namespace {

boost::json::value digest_json(const std::optional<body_digest>& d) {
  if (!d) return nullptr;
  return boost::json::object{{"length", d->length}, {"xxh64", xxh64_hex(*d)}};
}

boost::json::array digests_json(const std::vector<url_digest>& digests) {
  boost::json::array out;
  for (const auto& u : digests) {
    boost::json::object o{{"target", u.target}, {"reference", digest_json(u.reference)},
                          {"mismatches", u.mismatches}, {"first_mismatch", digest_json(u.first_mismatch)}};
    if (u.first_mismatch) {
      o["message"] = u.target + ": " + std::to_string(u.mismatches) + " 2xx bodies differ from the first one (" +
                     describe(*u.reference) + "); the first to differ has " + describe(*u.first_mismatch);
    }
    out.push_back(std::move(o));
  }
  return out;
}

// {"200": 990, "503": 10}: the codes that came, by count.
boost::json::object statuses_json(const run_stats& s) {
  boost::json::object out;
  for (std::size_t code = 0; code < s.statuses.size(); ++code) {
    if (s.statuses[code] > 0) out[std::to_string(code)] = s.statuses[code];
  }
  return out;
}

}  // namespace

boost::json::object to_json(const run_report& r) {
  const auto& s = r.stats;
  boost::json::object failures;
  for (std::size_t i = 0; i < failure_kinds; ++i) failures[failure_name(static_cast<failure>(i))] = s.failures[i];

  const auto us = [&](double ns) { return ns / 1000.0; };
  boost::json::object latency;
  latency["p50"] = us(s.latency_ns.percentile(0.50));
  latency["p90"] = us(s.latency_ns.percentile(0.90));
  latency["p99"] = us(s.latency_ns.percentile(0.99));
  latency["p999"] = us(s.latency_ns.percentile(0.999));
  latency["max"] = us(static_cast<double>(s.latency_ns.max()));
  latency["mean"] = us(s.latency_ns.mean());

  boost::json::object o;
  o["protocol"] = protocol_name(r.opts.proto);
  o["verify"] = verify_mode_name(r.opts.verify);
  if (r.opts.verify == verify_mode::length) {
    o["expect_length"] = boost::json::array(r.opts.expect_lengths.begin(), r.opts.expect_lengths.end());
  }
  if (r.opts.verify == verify_mode::digest) o["digests"] = digests_json(r.digests);
  o["requests_planned"] = r.opts.requests;
  o["requests_completed"] = s.completed;
  o["requests_failed"] = s.failed;
  o["failures"] = std::move(failures);
  o["first_malformed"] = s.first_malformed.empty() ? boost::json::value(nullptr) : boost::json::value(s.first_malformed);
  o["statuses"] = statuses_json(s);
  o["per_protocol"] = boost::json::object{{"h1", s.completed_h1}, {"h2", s.completed_h2}};
  o["connections"] = r.opts.connections;
  o["connections_opened"] = s.connections_opened;
  o["streams"] = r.opts.streams;
  o["pipeline"] = r.opts.pipeline;
  o["elapsed_s"] = r.elapsed_s;
  o["requests_s"] = r.requests_s;
  const auto per_s = [&](std::uint64_t n) { return r.requests_s > 0 ? static_cast<double>(n) / r.requests_s : 0.0; };
  o["requests_per_s"] = per_s(s.completed);
  o["latency_us"] = std::move(latency);
  o["bytes_sent"] = s.bytes_sent;
  o["bytes_received"] = s.bytes_received;
  o["body_bytes_received"] = s.body_bytes_received;
  o["bytes_received_per_s"] = per_s(s.bytes_received);  // body and framing, as read from the sockets
  o["requests_cancelled"] = s.cancelled;
  o["connect_retries"] = s.connect_retries;
  o["connects_in_flight_peak"] = s.connects_in_flight_peak;
  o["connections_held"] = s.connections_held;
  o["held_connections_lost"] = s.held_connections_lost;
  o["held_s"] = r.held_s;
  o["time_limit_hit"] = s.time_limit_hit;
  return o;
}

int exit_code(const run_report& r) noexcept {
  const auto& s = r.stats;
  return (s.failed == 0 && !s.time_limit_hit && s.completed == r.opts.requests) ? 0 : 1;
}

}  // namespace memgate::loadgen
