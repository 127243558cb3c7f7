#pragma once
// HTTP/1.1's final output stream: the buffers of the connection's next write, gathered
// for one scatter/gather write. Everything it views lives in the session until that
// write completes (the header and chunk lines, the body, the fresh buffer, the queued
// chunk), so it keeps no owners.
#include "strategy/body_writer.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/container/small_vector.hpp>

#include <span>

namespace memgate::http1 {

class write_list final : public strategy::output_stream {
 public:
  void framing(strategy::bytes_view bytes) override { add(bytes); }
  void view(strategy::bytes_view bytes, std::shared_ptr<const void>) override { add(bytes); }
  std::size_t copy_capacity(const strategy::body_piece& piece) override { return piece.size(); }

  std::span<const boost::asio::const_buffer> buffers() const { return buffers_; }
  void clear() { buffers_.clear(); }

 private:
  void add(strategy::bytes_view bytes) {
    if (!bytes.empty()) buffers_.emplace_back(bytes.data(), bytes.size());
  }

  // A header, a chunk line, a body of up to a few pattern slices and a CRLF fit without
  // a heap allocation.
  boost::container::small_vector<boost::asio::const_buffer, 8> buffers_;
};

}  // namespace memgate::http1
