#include "metrics/live_heap.hpp"

#include "metrics/allocation_charge.hpp"

#include "live_heap.h"

namespace memgate::metrics {

// The protocols are the counting core's charge tags.
static_assert(static_cast<int>(protocol::none) == heapshim_charge_none);
static_assert(static_cast<int>(protocol::h2) == heapshim_charges);

bool allocations_counted() noexcept { return heapshim_counts_allocations() != 0; }

live_heap read_live_heap() noexcept {
  heapshim_totals totals{};
  heapshim_read_totals(&totals);
  live_heap out;
  out.live_bytes = totals.live_bytes;
  out.allocations = totals.allocations;
  out.deallocations = totals.deallocations;
  out.allocated_bytes = totals.allocated_bytes;
  out.h1 = {totals.charged_allocations[0], totals.charged_allocated_bytes[0]};
  out.h2 = {totals.charged_allocations[1], totals.charged_allocated_bytes[1]};
  return out;
}

protocol charged_protocol() noexcept { return static_cast<protocol>(heapshim_charge()); }

allocations_of::allocations_of(protocol p) noexcept : previous_(charged_protocol()) {
  heapshim_set_charge(static_cast<int>(p));
}

allocations_of::~allocations_of() { heapshim_set_charge(static_cast<int>(previous_)); }

}  // namespace memgate::metrics
