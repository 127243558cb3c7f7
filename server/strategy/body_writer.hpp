#pragma once
// How response bytes reach a protocol's output: `writev` hands the body on as views of
// where it already is, for one scatter/gather write; `buffered` copies framing and body
// into one fresh buffer (the known-bad strategy, on purpose). The writer is chosen once
// at start-up (strategies.hpp); each protocol supplies its final output stream.
#include "config/config.hpp"
#include "strategy/body_piece.hpp"
#include "strategy/fresh_buffer.hpp"

#include <cstddef>
#include <memory>
#include <optional>

namespace memgate::strategy {

// What one write of a protocol will carry.
class output_stream {
 public:
  // Framing bytes: valid only during this call (h2 copies them into its batch) or, where
  // the protocol says so, until its write completes (h1's header and chunk lines).
  virtual void framing(bytes_view bytes) = 0;
  // Bytes that stay where they are until the write completes; `owner` (null for the
  // pattern) keeps them alive.
  virtual void view(bytes_view bytes, std::shared_ptr<const void> owner) = 0;
  // How large a fresh buffer that starts with a copy of `piece` is made: h2 sizes it for
  // what the peer's windows let out in this batch, so the batch's later frames append to it.
  virtual std::size_t copy_capacity(const body_piece& piece) = 0;

 protected:
  ~output_stream() = default;
};

class body_writer {
 public:
  virtual ~body_writer() = default;
  // Hands `piece` to `out`. `copy` is the response's fresh buffer, which the protocol
  // keeps between pieces and releases once written; a writer that copies appends to it
  // while it has room.
  virtual void write(const body_piece& piece, output_stream& out, std::optional<fresh_buffer>& copy) const = 0;
};

const body_writer& body_writer_for(copy_strategy strategy);

}  // namespace memgate::strategy
