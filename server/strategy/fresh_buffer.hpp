#pragma once
// The buffered copy strategy's defining act: a fresh heap buffer per response
// (h2: per window-limited batch), sized once, holding copies of framing and body
// bytes, written in one call. `writev` never builds one; bytes_copied proves it.
// Chunks made ahead without backpressure are fresh buffers too.
#include "app/response_body.hpp"
#include "metrics/counters.hpp"
#include "strategy/body_piece.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

namespace memgate::strategy {

using owned_bytes = std::shared_ptr<const std::vector<std::uint8_t>>;

class fresh_buffer {
 public:
  explicit fresh_buffer(std::size_t capacity) : bytes_(std::make_shared<std::vector<std::uint8_t>>()) {
    bytes_->reserve(capacity);
  }

  // Framing (status line, headers, chunk lines, frame headers): not counted as body bytes.
  void append(bytes_view framing) { bytes_->insert(bytes_->end(), framing.begin(), framing.end()); }

  void append_body(const app::response_body& body, std::uint64_t offset, std::uint64_t length) {
    metrics::add(metrics::counter::bytes_copied, static_cast<std::int64_t>(length));
    while (length > 0) {
      const auto slice = body.slice(offset, static_cast<std::size_t>(std::min<std::uint64_t>(length, app::max_pattern_slice)));
      bytes_->insert(bytes_->end(), slice.begin(), slice.end());
      offset += slice.size();
      length -= slice.size();
    }
  }

  // The piece's framing and body bytes, in wire order.
  void append(const body_piece& piece) {
    for (const auto framing : piece.before) append(framing);
    append_body(piece.body, piece.offset, piece.length);
    append(piece.after);
  }

  // Stable while appending within the capacity given at construction.
  const std::uint8_t* data() const { return bytes_->data(); }
  std::size_t size() const { return bytes_->size(); }
  std::size_t capacity() const { return bytes_->capacity(); }
  owned_bytes share() const { return bytes_; }

 private:
  std::shared_ptr<std::vector<std::uint8_t>> bytes_;
};

}  // namespace memgate::strategy
