#include "strategy/body_writer.hpp"

#include <algorithm>

namespace memgate::strategy {
namespace {

class views_writer final : public body_writer {
 public:
  void write(const body_piece& piece, output_stream& out, std::optional<fresh_buffer>&) const override {
    for (const auto framing : piece.before) {
      if (!framing.empty()) out.framing(framing);
    }
    for (std::uint64_t offset = piece.offset, end = offset + piece.length; offset < end;) {
      const auto slice = piece.body.slice(offset, static_cast<std::size_t>(end - offset));
      if (slice.empty()) break;
      out.view(slice, piece.body.owner());
      offset += slice.size();
    }
    if (!piece.after.empty()) out.framing(piece.after);
  }
};

class fresh_buffer_writer final : public body_writer {
 public:
  void write(const body_piece& piece, output_stream& out, std::optional<fresh_buffer>& copy) const override {
    const std::size_t size = piece.size();
    if (!copy || copy->size() + size > copy->capacity()) copy.emplace(std::max(size, out.copy_capacity(piece)));
    const std::size_t start = copy->size();
    copy->append(piece);
    out.view({copy->data() + start, size}, copy->share());
  }
};

}  // namespace

const body_writer& body_writer_for(copy_strategy strategy) {
  static const views_writer views;
  static const fresh_buffer_writer fresh;
  if (strategy == copy_strategy::buffered) return fresh;
  return views;
}

}  // namespace memgate::strategy
