#pragma once
// What one write to the socket carries: frame bytes nghttp2 serialised (copied
// into `staging`) interleaved with views of body bytes that stay where they are.
#include <boost/asio/buffer.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace memgate::http2 {

class output_batch {
 public:
  void stage(std::span<const std::uint8_t> bytes);                     // copied
  void view(std::span<const std::uint8_t> bytes, std::shared_ptr<const void> owner);  // not copied
  // The scatter/gather list; valid until the next stage()/view()/clear().
  const std::vector<boost::asio::const_buffer>& buffers();
  std::size_t size() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  std::size_t segment_count() const { return segments_.size(); }
  void clear();

 private:
  struct segment {
    const std::uint8_t* external;  // null: `length` bytes of staging_ at `offset`
    std::size_t offset;
    std::size_t length;
  };
  std::vector<std::uint8_t> staging_;
  std::vector<segment> segments_;
  std::vector<std::shared_ptr<const void>> owners_;
  std::vector<boost::asio::const_buffer> buffers_;
  std::size_t bytes_ = 0;
};

}  // namespace memgate::http2
