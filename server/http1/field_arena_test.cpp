#include "http1/field_arena.hpp"

#include "metrics/live_heap.hpp"

#include <boost/beast/http/fields.hpp>
#include <gtest/gtest.h>

#include <string>

namespace memgate::http1 {
namespace {

using arena_fields = boost::beast::http::basic_fields<field_allocator<char>>;

void fill(arena_fields& fields, int count, std::size_t value_bytes) {
  for (int i = 0; i < count; ++i) fields.insert("X-Field-" + std::to_string(i), std::string(value_bytes, 'v'));
}

TEST(Http1FieldArena, ARequestsFieldsReuseTheBlockOfTheLastRequest) {
  field_arena arena;
  {
    arena_fields fields{field_allocator<char>(arena)};
    fill(fields, 4, 20);
  }
  arena.release();
  const auto before = metrics::read_live_heap().allocations;
  for (int request = 0; request < 100; ++request) {
    {
      arena_fields fields{field_allocator<char>(arena)};
      fields.insert(boost::beast::http::field::host, "x");
      fields.insert(boost::beast::http::field::user_agent, "field-arena-test");
      EXPECT_EQ(fields[boost::beast::http::field::host], "x");
    }
    arena.release();
  }
  EXPECT_EQ(metrics::read_live_heap().allocations - before, 0);
}

TEST(Http1FieldArena, FieldsPastTheBlockSpillToTheHeapAndAreFreed) {
  field_arena arena;
  arena.allocate(1, 1);  // this thread's pool gets its block now, before the count
  arena.release();
  const auto live = metrics::read_live_heap().live_bytes;
  {
    arena_fields fields{field_allocator<char>(arena)};
    fill(fields, 100, 200);  // about 30 KiB of fields
    fields.erase("X-Field-7");
    EXPECT_EQ(std::distance(fields.begin(), fields.end()), 99);
    EXPECT_EQ(fields["X-Field-99"], std::string(200, 'v'));
  }
  arena.release();
  EXPECT_EQ(metrics::read_live_heap().live_bytes - live, 0);  // what spilled is freed, the block pooled again
}

}  // namespace
}  // namespace memgate::http1
