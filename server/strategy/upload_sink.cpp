#include "strategy/upload_sink.hpp"

#include <boost/json.hpp>
#include <zlib.h>

namespace memgate::strategy {

bool upload_sink::accept(std::span<const std::uint8_t> bytes) {
  bytes_ += bytes.size();
  if (strategy_ == request_body_strategy::streamed) {
    crc_ = static_cast<std::uint32_t>(crc32_z(crc_, bytes.data(), bytes.size()));
    return true;
  }
  if (bytes_ > max_buffered_bytes_) return false;
  held_.insert(held_.end(), bytes.begin(), bytes.end());
  return true;
}

std::string upload_sink::finish_json() {
  if (strategy_ == request_body_strategy::buffered) {
    crc_ = static_cast<std::uint32_t>(crc32_z(crc_, held_.data(), held_.size()));
    std::vector<std::uint8_t>().swap(held_);
  }
  return boost::json::serialize(boost::json::object{{"bytes", bytes_}, {"crc32", crc_}});
}

}  // namespace memgate::strategy
