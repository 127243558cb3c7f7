// Runs under LD_PRELOAD of the heap shim for heapshim_test: `heapshim_probe CASE` performs one
// allocation step at a time and, after each, prints one line `STEP key=value ...` and waits for a
// line on stdin. The line carries what the shim's counters must have moved by since the case's
// first step (held, count, frees, allocated: live bytes, allocations, deallocations, allocated
// bytes), computed here from malloc_usable_size, which the shim does not interpose; the test
// samples the channel and compares. Output goes through write(2), not stdio, and nothing allocates
// between steps except what a step says.
#include <malloc.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace {

struct expected_change {
  long long held = 0;
  long long count = 0;
  long long frees = 0;
  long long allocated = 0;
} expected;

void write_line(const char* text) {
  const std::size_t length = std::strlen(text);
  if (write(1, text, length) != static_cast<ssize_t>(length)) std::_Exit(3);
}

void wait_for_go() {
  char c = 0;
  while (read(0, &c, 1) == 1 && c != '\n') {
  }
}

void step(const char* name, const char* extra = "") {
  char line[256];
  std::snprintf(line, sizeof line, "%s held=%lld count=%lld frees=%lld allocated=%lld%s\n", name, expected.held,
                expected.count, expected.frees, expected.allocated, extra);
  write_line(line);
  wait_for_go();
}

void got(void* block) {
  if (block == nullptr) std::_Exit(4);
  const auto size = static_cast<long long>(malloc_usable_size(block));
  expected.held += size;
  expected.count += 1;
  expected.allocated += size;
}

// Counts the block as gone, then hands it to DESTROY (free, or a delete expression).
template <typename T, typename Destroy>
void expect_gone(T* block, Destroy destroy) {
  expected.held -= static_cast<long long>(malloc_usable_size(block));
  expected.frees += 1;
  destroy(block);
}

void release(void* block) {
  expect_gone(block, [](void* p) { std::free(p); });
}

void allocate_then_free(const char* name, void* block) {
  got(block);
  step(name);
  release(block);
  step("free");
}

void family() {
  step("baseline");
  allocate_then_free("malloc", std::malloc(1000));
  allocate_then_free("calloc", std::calloc(10, 300));
  void* aligned = nullptr;
  if (posix_memalign(&aligned, 256, 5000) != 0) std::_Exit(4);
  allocate_then_free("posix_memalign", aligned);
  allocate_then_free("aligned_alloc", aligned_alloc(64, 640));
  allocate_then_free("memalign", memalign(4096, 100));
  allocate_then_free("valloc", valloc(3000));
  allocate_then_free("pvalloc", pvalloc(5000));
  allocate_then_free("malloc-large", std::malloc(4 << 20));  // mmap-backed under glibc
}

void resize(void*& block, std::size_t size) {
  const auto before = static_cast<long long>(malloc_usable_size(block));
  void* moved = std::realloc(block, size);
  if (moved == nullptr && size == 0) {
    expected.held -= before;
    expected.frees += 1;
  } else if (moved != nullptr) {
    expected.held += static_cast<long long>(malloc_usable_size(moved)) - before;
  }
  block = moved;
}

void reallocs() {
  step("baseline");
  void* block = std::realloc(nullptr, 100);  // realloc of NULL is a malloc
  got(block);
  step("realloc-null");
  resize(block, 200000);
  step("realloc-grow");
  resize(block, 50);
  step("realloc-shrink");
  void* array = reallocarray(nullptr, 100, 8);
  got(array);
  step("reallocarray");
  release(array);
  resize(block, 0);  // glibc frees and answers NULL; jemalloc and mimalloc keep a minimal block
  step("realloc-zero");
  if (block != nullptr) release(block);
  step("free");
}

struct alignas(256) overaligned {
  char bytes[512];
};

void cxx() {
  step("baseline");
  auto* one = new long long(7);
  got(one);
  step("new");
  expect_gone(one, [](long long* p) { delete p; });
  step("delete");
  auto* many = new char[3000];
  got(many);
  step("new[]");
  expect_gone(many, [](char* p) { delete[] p; });
  step("delete[]");
  auto* aligned = new overaligned;
  got(aligned);
  step("new-aligned");
  expect_gone(aligned, [](overaligned* p) { delete p; });
  step("delete-aligned");
}

constexpr int thread_count = 4;
constexpr int blocks_per_thread = 100;
std::array<std::array<void*, blocks_per_thread>, thread_count> thread_blocks;
pthread_barrier_t barrier;

void* thread_work(void* arg) {
  const auto index = reinterpret_cast<std::intptr_t>(arg);
  pthread_barrier_wait(&barrier);  // allocate
  for (auto& block : thread_blocks[index]) block = std::malloc(256);
  pthread_barrier_wait(&barrier);
  pthread_barrier_wait(&barrier);  // free the next thread's blocks: frees counted off the allocating thread
  for (void* block : thread_blocks[(index + 1) % thread_count]) std::free(block);
  pthread_barrier_wait(&barrier);
  return nullptr;
}

void threads() {
  pthread_barrier_init(&barrier, nullptr, thread_count + 1);
  std::array<pthread_t, thread_count> ids{};
  for (std::intptr_t i = 0; i < thread_count; ++i) pthread_create(&ids[i], nullptr, thread_work, reinterpret_cast<void*>(i));
  step("baseline");
  pthread_barrier_wait(&barrier);
  pthread_barrier_wait(&barrier);
  for (const auto& blocks : thread_blocks) {
    for (void* block : blocks) got(block);
  }
  step("allocated-on-threads");
  const long long held_on_threads = expected.held;
  pthread_barrier_wait(&barrier);
  pthread_barrier_wait(&barrier);
  expected.held -= held_on_threads;
  expected.frees += thread_count * blocks_per_thread;
  step("freed-across-threads");
  for (pthread_t id : ids) pthread_join(id, nullptr);
  step("joined");  // an exited thread's slot keeps its counts
}

// More threads over time than there are counter slots, one after another: an exited thread's
// slot is reused and keeps its counts.
constexpr int churned_threads = 3000;

void* volatile churned_block;  // keeps the compiler from eliding the malloc and free

void* allocate_and_free(void*) {
  churned_block = std::malloc(100);
  std::free(churned_block);
  return nullptr;
}

void churn() {
  pthread_t warm;  // the first thread's stack and TLS vector, which later threads reuse
  pthread_create(&warm, nullptr, allocate_and_free, nullptr);
  pthread_join(warm, nullptr);
  step("baseline");
  churned_block = std::malloc(100);
  const long long size = static_cast<long long>(malloc_usable_size(churned_block));
  std::free(churned_block);
  for (int i = 0; i < churned_threads; ++i) {
    pthread_t id;
    pthread_create(&id, nullptr, allocate_and_free, nullptr);
    pthread_join(id, nullptr);
  }
  expected.count += churned_threads + 1;
  expected.frees += churned_threads + 1;
  expected.allocated += (churned_threads + 1) * size;
  step("churned");
}

// More threads at once than there are counter slots (1024): the rest share the overflow slot.
// Each allocates enough that the overflow threads' share outweighs what creating threads costs.
constexpr int crowd_size = 1100;
constexpr int blocks_per_crowd_thread = 50;
std::array<std::array<void*, blocks_per_crowd_thread>, crowd_size> crowd_blocks;

void* join_the_crowd(void* arg) {
  auto& blocks = crowd_blocks[reinterpret_cast<std::intptr_t>(arg)];
  for (auto& block : blocks) block = std::malloc(200);
  pthread_barrier_wait(&barrier);  // all allocated, all alive
  pthread_barrier_wait(&barrier);  // free
  for (void* block : blocks) std::free(block);
  return nullptr;
}

void crowd() {
  step("baseline");
  pthread_barrier_init(&barrier, nullptr, crowd_size + 1);
  pthread_attr_t small_stack;
  pthread_attr_init(&small_stack);
  pthread_attr_setstacksize(&small_stack, 64 * 1024);
  std::array<pthread_t, crowd_size> ids{};
  for (std::intptr_t i = 0; i < crowd_size; ++i) {
    if (pthread_create(&ids[i], &small_stack, join_the_crowd, reinterpret_cast<void*>(i)) != 0) std::_Exit(9);
  }
  pthread_barrier_wait(&barrier);
  // Creating the threads allocated too (each new stack's TLS vector): the test checks bounds.
  long long held = 0;
  for (const auto& blocks : crowd_blocks) {
    for (void* block : blocks) held += static_cast<long long>(malloc_usable_size(block));
  }
  char line[128];
  std::snprintf(line, sizeof line, "crowd-allocated crowd_held=%lld crowd=%d blocks=%d\n", held, crowd_size,
                crowd_size * blocks_per_crowd_thread);
  write_line(line);
  wait_for_go();
  pthread_barrier_wait(&barrier);
  for (pthread_t id : ids) pthread_join(id, nullptr);
  std::snprintf(line, sizeof line, "crowd-freed\n");
  write_line(line);
  wait_for_go();
}

// A child allocates BYTES, tells its parent their usable size on one pipe, and exits when the
// parent closes the other: with exit, not _exit, so that the shim removes the child's socket.
struct child_link {
  int ready[2];
  int hold[2];
};

[[noreturn]] void run_child(int ready_fd, int hold_fd, std::size_t bytes) {
  void* own = std::malloc(bytes);
  const long long size = static_cast<long long>(malloc_usable_size(own));
  if (write(ready_fd, &size, sizeof size) != sizeof size) std::_Exit(6);
  char c;
  while (read(hold_fd, &c, 1) > 0) {
  }
  std::exit(0);
}

// The parent's side: steps READY_STEP once the child is ready, then CHILD-EXITED once it has gone.
void watch_child(child_link& link, pid_t child, const char* ready_step) {
  close(link.hold[0]);
  long long child_held = 0;
  if (read(link.ready[0], &child_held, sizeof child_held) != sizeof child_held) std::_Exit(7);
  char extra[96];
  std::snprintf(extra, sizeof extra, " child=%d child_held=%lld", static_cast<int>(child), child_held);
  step(ready_step, extra);
  close(link.hold[1]);
  waitpid(child, nullptr, 0);
  std::snprintf(extra, sizeof extra, " child=%d", static_cast<int>(child));
  step("child-exited", extra);
}

void fork_case() {
  void* kept = std::malloc(10000);  // before the baseline: live in the child too
  step("baseline");
  child_link link{};
  if (pipe(link.ready) != 0 || pipe(link.hold) != 0) std::_Exit(5);
  const pid_t child = fork();
  if (child == 0) {
    close(link.hold[1]);
    run_child(link.ready[1], link.hold[0], 20000);
  }
  watch_child(link, child, "forked");
  release(kept);
  step("free");
}

void exec_case() {
  step("baseline");
  child_link link{};
  if (pipe(link.ready) != 0 || pipe(link.hold) != 0) std::_Exit(5);
  const pid_t child = fork();
  if (child == 0) {
    char ready_fd[16], hold_fd[16];
    std::snprintf(ready_fd, sizeof ready_fd, "%d", link.ready[1]);
    std::snprintf(hold_fd, sizeof hold_fd, "%d", link.hold[0]);
    close(link.hold[1]);
    execl("/proc/self/exe", "heapshim_probe", "exec-child", ready_fd, hold_fd, static_cast<char*>(nullptr));
    std::_Exit(8);
  }
  watch_child(link, child, "exec-child-ready");
}

// 64 MiB in 4 KiB blocks, all freed but a last one that keeps glibc from trimming the top on free.
constexpr int fragment_count = 16384;
std::array<void*, fragment_count> fragments;

void trim_case() {
  step("baseline");
  for (auto& block : fragments) {
    block = std::malloc(4096);
    std::memset(block, 1, 4096);
    got(block);
  }
  void* guard = std::malloc(4096);
  got(guard);
  step("fragments-held");
  for (void* block : fragments) release(block);
  step("fragments-freed");
  release(guard);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view which = argc > 1 ? argv[1] : "";
  if (which == "family") family();
  else if (which == "realloc") reallocs();
  else if (which == "cxx") cxx();
  else if (which == "threads") threads();
  else if (which == "churn") churn();
  else if (which == "crowd") crowd();
  else if (which == "fork") fork_case();
  else if (which == "exec") exec_case();
  else if (which == "exec-child" && argc == 4) run_child(std::atoi(argv[2]), std::atoi(argv[3]), 30000);
  else if (which == "trim") trim_case();
  else {
    std::fprintf(stderr, "usage: heapshim_probe family|realloc|cxx|threads|churn|crowd|fork|exec|trim\n");
    return 2;
  }
  write_line("done\n");
  return 0;
}
