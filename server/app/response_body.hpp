#pragma once
// A response body as the protocols see it: a length and views of its bytes.
// Either the shared pattern (no storage of its own) or a text the body owns.
#include "app/pattern.hpp"

#include <memory>
#include <span>
#include <string>

namespace memgate::app {

class response_body {
 public:
  response_body() = default;  // empty
  static response_body pattern(std::uint64_t length) { return response_body(length, nullptr); }
  static response_body text(std::string content) {
    return shared_text(std::make_shared<const std::string>(std::move(content)));
  }
  static response_body shared_text(std::shared_ptr<const std::string> content) {
    const auto length = content->size();
    return response_body(length, std::move(content));
  }

  std::uint64_t size() const { return size_; }
  bool is_pattern() const { return text_ == nullptr; }

  // Up to max_length bytes starting at offset; shorter only at the end of the body
  // or past the pattern's largest contiguous slice.
  std::span<const std::uint8_t> slice(std::uint64_t offset, std::size_t max_length) const {
    if (offset >= size_) return {};
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(max_length, size_ - offset));
    if (text_ == nullptr) return pattern_slice(offset, want);
    return {reinterpret_cast<const std::uint8_t*>(text_->data()) + offset, want};
  }

  // Keeps a text body alive while a write that views it is in flight.
  const std::shared_ptr<const std::string>& owner() const { return text_; }

 private:
  response_body(std::uint64_t size, std::shared_ptr<const std::string> text) : size_(size), text_(std::move(text)) {}

  std::uint64_t size_ = 0;
  std::shared_ptr<const std::string> text_;
};

}  // namespace memgate::app
