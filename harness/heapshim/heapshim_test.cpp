// The heap shim, run for real: heapshim_probe under LD_PRELOAD, on glibc and on jemalloc and
// mimalloc preloaded after the shim, sampled through the channel after every step it makes.
#include "heapshim_test_support.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace memgate::heapshim_test {
namespace {

std::string allocator_library(const std::string& allocator) {
  if (allocator == "jemalloc") return "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
  if (allocator == "mimalloc") return "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2";
  return "";
}

class heapshim : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    library_ = allocator_library(GetParam());
    if (!library_.empty() && !std::filesystem::exists(library_)) GTEST_SKIP() << library_ << " is not installed";
  }

  // The shim first, then the allocator it must forward to.
  std::string preload() const { return library_.empty() ? HEAPSHIM_LIBRARY : std::string(HEAPSHIM_LIBRARY) + " " + library_; }

  using step_check = std::function<void(const probe_step&, const boost::json::object&)>;

  // Runs one probe case; after each step the counters must have moved by what the step says.
  void run_case(const std::string& name, const step_check& also_check = {}) {
    preloaded_process probe({HEAPSHIM_PROBE, name}, preload(), channel_.path());
    const std::string socket = socket_path(channel_.path(), probe.pid());
    const probe_step first = parse_step(probe.read_line());
    ASSERT_EQ(first.name, "baseline");
    const auto base = query(socket, "sample");
    probe.go();
    for (std::string line = probe.read_line(); line != "done"; line = probe.read_line()) {
      const probe_step step = parse_step(line);
      const auto now = query(socket, "sample");
      SCOPED_TRACE(line + "\n" + boost::json::serialize(now));
      EXPECT_EQ(field(now, "live_bytes") - field(base, "live_bytes"), step.values.at("held"));
      EXPECT_EQ(field(now, "allocations") - field(base, "allocations"), step.values.at("count"));
      EXPECT_EQ(field(now, "deallocations") - field(base, "deallocations"), step.values.at("frees"));
      EXPECT_EQ(field(now, "allocated_bytes") - field(base, "allocated_bytes"), step.values.at("allocated"));
      if (also_check) also_check(step, now);
      probe.go();
    }
    EXPECT_EQ(probe.finish(), 0);
  }

  scratch_dir channel_;
  std::string library_;
};

TEST_P(heapshim, counts_every_function_of_the_malloc_family) { run_case("family"); }

TEST_P(heapshim, counts_realloc_as_a_resize_and_reallocarray_as_an_allocation) { run_case("realloc"); }

TEST_P(heapshim, counts_operator_new_and_delete) { run_case("cxx"); }

TEST_P(heapshim, sums_threads_and_frees_made_on_another_thread) { run_case("threads"); }

TEST_P(heapshim, keeps_the_counts_of_exited_threads_whose_slots_are_reused) { run_case("churn"); }

TEST_P(heapshim, threads_past_the_slot_count_share_the_overflow_slot_and_stay_counted) {
  preloaded_process probe({HEAPSHIM_PROBE, "crowd"}, preload(), channel_.path());
  const std::string socket = socket_path(channel_.path(), probe.pid());
  ASSERT_EQ(parse_step(probe.read_line()).name, "baseline");
  const auto base = query(socket, "sample");
  probe.go();
  // Exact but for what creating 1100 threads allocates: a TLS vector per new stack, a few hundred
  // bytes each, less than the overflow threads' own blocks, so a lost count shows.
  const long long per_thread_slack = 512;
  const probe_step allocated = parse_step(probe.read_line());
  ASSERT_EQ(allocated.name, "crowd-allocated");
  const long long crowd = allocated.values.at("crowd");
  const auto during = query(socket, "sample");
  const long long live_during = field(during, "live_bytes") - field(base, "live_bytes");
  EXPECT_GE(live_during, allocated.values.at("crowd_held"));
  EXPECT_LE(live_during, allocated.values.at("crowd_held") + crowd * per_thread_slack);
  const long long blocks = allocated.values.at("blocks");
  EXPECT_GE(field(during, "allocations") - field(base, "allocations"), blocks);
  EXPECT_LE(field(during, "allocations") - field(base, "allocations"), blocks + crowd);
  probe.go();
  ASSERT_EQ(parse_step(probe.read_line()).name, "crowd-freed");
  const auto after = query(socket, "sample");
  const long long live_after = field(after, "live_bytes") - field(base, "live_bytes");
  EXPECT_GE(live_after, 0);
  EXPECT_LE(live_after, crowd * per_thread_slack);
  EXPECT_GE(field(after, "deallocations") - field(base, "deallocations"), blocks);
  probe.go();
  EXPECT_EQ(probe.read_line(), "done");
  EXPECT_EQ(probe.finish(), 0);
}

TEST_P(heapshim, names_the_allocator_it_forwards_to) {
  run_case("cxx", [&](const probe_step&, const boost::json::object& sample) {
    EXPECT_EQ(sample.at("allocator").as_string(), GetParam());
    const std::string from(sample.at("malloc_from").as_string());
    EXPECT_NE(from.find(GetParam() == "glibc" ? std::string("libc.so") : "lib" + GetParam()), std::string::npos) << from;
    EXPECT_TRUE(sample.at("seen_allocations").as_bool());
    EXPECT_EQ(field(sample, "inherited_live_bytes"), 0);
  });
}

TEST_P(heapshim, a_forked_child_has_its_own_counters_and_the_parent_is_unchanged) {
  run_case("fork", [&](const probe_step& step, const boost::json::object& parent) {
    const std::string child_socket = socket_path(channel_.path(), static_cast<pid_t>(step.values.count("child") ? step.values.at("child") : 0));
    if (step.name == "forked") {
      const auto child = query(child_socket, "sample");
      SCOPED_TRACE(boost::json::serialize(child));
      EXPECT_EQ(field(child, "pid"), step.values.at("child"));
      EXPECT_EQ(field(child, "ppid"), field(parent, "pid"));
      EXPECT_EQ(field(child, "inherited_live_bytes"), field(parent, "live_bytes"));
      // Its own block, and what starting its channel thread allocated (the thread's TLS vector).
      const long long own = field(child, "live_bytes") - field(child, "inherited_live_bytes");
      EXPECT_GE(own, step.values.at("child_held"));
      EXPECT_LT(own, step.values.at("child_held") + 4096);
      EXPECT_GE(field(child, "allocations"), 1);
      EXPECT_LE(field(child, "allocations"), 4);
    } else if (step.name == "child-exited") {
      EXPECT_FALSE(std::filesystem::exists(child_socket)) << "the child's socket outlived it";
    }
  });
}

TEST_P(heapshim, an_exec_starts_fresh_counters_under_the_same_pid) {
  run_case("exec", [&](const probe_step& step, const boost::json::object&) {
    if (!step.values.count("child")) return;
    const std::string child_socket = socket_path(channel_.path(), static_cast<pid_t>(step.values.at("child")));
    if (step.name == "exec-child-ready") {
      const auto child = query(child_socket, "sample");
      SCOPED_TRACE(boost::json::serialize(child));
      EXPECT_EQ(field(child, "pid"), step.values.at("child"));
      EXPECT_EQ(field(child, "inherited_live_bytes"), 0);
      EXPECT_GE(field(child, "live_bytes"), step.values.at("child_held"));
      EXPECT_TRUE(std::string(child.at("exe").as_string()).ends_with("heapshim_probe"));
    } else if (step.name == "child-exited") {
      EXPECT_FALSE(std::filesystem::exists(child_socket));
    }
  });
}

TEST_P(heapshim, trim_returns_freed_memory_to_the_system) {
  preloaded_process probe({HEAPSHIM_PROBE, "trim"}, preload(), channel_.path());
  const std::string socket = socket_path(channel_.path(), probe.pid());
  ASSERT_EQ(parse_step(probe.read_line()).name, "baseline");
  probe.go();
  ASSERT_EQ(parse_step(probe.read_line()).name, "fragments-held");
  probe.go();
  ASSERT_EQ(parse_step(probe.read_line()).name, "fragments-freed");
  const long long before_kib = rss_kib(probe.pid());
  const auto trimmed = query(socket, "trim");
  const long long after_kib = rss_kib(probe.pid());
  EXPECT_TRUE(trimmed.at("trimmed").as_bool()) << boost::json::serialize(trimmed);
  EXPECT_FALSE(query(socket, "sample").at("trimmed").as_bool());
  // mimalloc's mi_collect frees only the calling (channel) thread's heap: no drop to expect.
  if (GetParam() != "mimalloc") {
    EXPECT_GT(before_kib - after_kib, 32 * 1024) << "RSS " << before_kib << " KiB before the trim, " << after_kib << " after";
  }
  probe.go();
  EXPECT_EQ(probe.read_line(), "done");
  EXPECT_EQ(probe.finish(), 0);
}

TEST_P(heapshim, answers_an_unknown_command_with_an_error) {
  preloaded_process probe({HEAPSHIM_PROBE, "cxx"}, preload(), channel_.path());
  ASSERT_EQ(parse_step(probe.read_line()).name, "baseline");
  const auto answer = query(socket_path(channel_.path(), probe.pid()), "dump");
  EXPECT_TRUE(answer.contains("error")) << boost::json::serialize(answer);
}

INSTANTIATE_TEST_SUITE_P(allocators, heapshim, ::testing::Values("glibc", "jemalloc", "mimalloc"),
                         [](const auto& info) { return info.param; });

TEST(heapshim_static_allocator, is_reported_as_not_interposed_with_no_allocation_seen) {
  scratch_dir channel;
  preloaded_process program({HEAPSHIM_STATIC_PROBE}, HEAPSHIM_LIBRARY, channel.path());
  ASSERT_EQ(program.read_line(), "ready");
  const auto sample = query(socket_path(channel.path(), program.pid()), "sample");
  SCOPED_TRACE(boost::json::serialize(sample));
  EXPECT_FALSE(sample.at("seen_allocations").as_bool());
  EXPECT_EQ(field(sample, "allocations"), 0);
  EXPECT_EQ(field(sample, "live_bytes"), 0);
  EXPECT_EQ(sample.at("allocator").as_string(), "not interposed");
  EXPECT_TRUE(std::string(sample.at("malloc_from").as_string()).ends_with("heapshim_static_probe"));
  EXPECT_EQ(program.finish(), 0);
}

TEST(heapshim_channel, has_its_thread_only_with_a_channel_dir) {
  scratch_dir channel;
  preloaded_process with_channel({HEAPSHIM_PROBE, "cxx"}, HEAPSHIM_LIBRARY, channel.path());
  preloaded_process without({HEAPSHIM_PROBE, "cxx"}, HEAPSHIM_LIBRARY, "");
  ASSERT_EQ(parse_step(with_channel.read_line()).name, "baseline");
  ASSERT_EQ(parse_step(without.read_line()).name, "baseline");
  EXPECT_EQ(thread_names(with_channel.pid()), (std::vector<std::string>{"heapshim_probe", "memgate-shim"}));
  EXPECT_EQ(thread_names(without.pid()), (std::vector<std::string>{"heapshim_probe"}));
}

}  // namespace
}  // namespace memgate::heapshim_test
