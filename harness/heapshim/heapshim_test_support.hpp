#pragma once
// What heapshim_test needs around the shim: a probe process started under LD_PRELOAD that it
// talks to line by line, the channel's client side, and a scratch directory for the sockets.
#include <boost/json/object.hpp>

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace memgate::heapshim_test {

class scratch_dir {
 public:
  scratch_dir();
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A program run with LD_PRELOAD=preload and MEMGATE_SHIM_DIR=channel_dir (when not empty), its
// stdin and stdout piped to the test.
class preloaded_process {
 public:
  preloaded_process(const std::vector<std::string>& argv, const std::string& preload, const std::string& channel_dir);
  ~preloaded_process();
  preloaded_process(const preloaded_process&) = delete;
  preloaded_process& operator=(const preloaded_process&) = delete;

  pid_t pid() const { return pid_; }
  std::string read_line();  // throws on EOF or after 20 s
  void go();                // one line on its stdin
  int finish();             // closes its stdin, returns its exit status (-1 if it was killed)

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffered_;
};

// One line a probe prints: `STEP key=value ...`.
struct probe_step {
  std::string name;
  std::map<std::string, long long> values;
};
probe_step parse_step(const std::string& line);

std::string socket_path(const std::string& channel_dir, pid_t pid);
// Sends COMMAND on the channel socket and parses the one JSON line that answers; throws on failure.
boost::json::object query(const std::string& path, const std::string& command);
long long field(const boost::json::object& sample, const char* key);
long long rss_kib(pid_t pid);
std::vector<std::string> thread_names(pid_t pid);  // sorted, from /proc/PID/task/*/comm

}  // namespace memgate::heapshim_test
