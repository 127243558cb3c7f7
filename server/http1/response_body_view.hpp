#pragma once
// A Beast body type over app::response_body: the serializer writes views of the
// body (pattern slices or the owned text), never a copy.
#include "app/response_body.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

namespace memgate::http1 {

struct response_body_view {
  using value_type = app::response_body;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(boost::system::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::system::error_code& ec) {
      ec = {};
      const auto slice = body_.slice(offset_, app::max_pattern_slice);
      if (slice.empty()) return boost::none;
      offset_ += slice.size();
      return std::make_pair(const_buffers_type(slice.data(), slice.size()), offset_ < body_.size());
    }

   private:
    const value_type& body_;
    std::uint64_t offset_ = 0;
  };
};

}  // namespace memgate::http1
