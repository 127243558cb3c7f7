#include "http2/output_batch.hpp"

namespace memgate::http2 {

void output_batch::stage(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;
  if (!segments_.empty() && segments_.back().external == nullptr) {
    segments_.back().length += bytes.size();
  } else {
    segments_.push_back({nullptr, staging_.size(), bytes.size()});
  }
  staging_.insert(staging_.end(), bytes.begin(), bytes.end());
  bytes_ += bytes.size();
}

void output_batch::view(std::span<const std::uint8_t> bytes, std::shared_ptr<const void> owner) {
  if (bytes.empty()) return;
  if (owner && (owners_.empty() || owners_.back() != owner)) owners_.push_back(std::move(owner));
  auto& last = segments_.empty() ? segments_.emplace_back(segment{bytes.data(), 0, 0}) : segments_.back();
  if (last.external != nullptr && last.external + last.length == bytes.data()) {
    last.length += bytes.size();  // contiguous with the previous view: one iovec
  } else {
    segments_.push_back({bytes.data(), 0, bytes.size()});
  }
  bytes_ += bytes.size();
}

const std::vector<boost::asio::const_buffer>& output_batch::buffers() {
  buffers_.clear();
  for (const auto& s : segments_) {
    if (s.length == 0) continue;
    buffers_.emplace_back(s.external ? s.external : staging_.data() + s.offset, s.length);
  }
  return buffers_;
}

void output_batch::clear() {
  staging_.clear();
  segments_.clear();
  owners_.clear();
  buffers_.clear();
  bytes_ = 0;
}

}  // namespace memgate::http2
