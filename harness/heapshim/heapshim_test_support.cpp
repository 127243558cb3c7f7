#include "heapshim_test_support.hpp"

#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace memgate::heapshim_test {
namespace {

std::runtime_error failure(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

}  // namespace

scratch_dir::scratch_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "heapshim-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw failure("mkdtemp");
  path_ = pattern;
}

scratch_dir::~scratch_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

preloaded_process::preloaded_process(const std::vector<std::string>& argv, const std::string& preload,
                                     const std::string& channel_dir) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (!entry.starts_with("LD_PRELOAD=") && !entry.starts_with("MEMGATE_SHIM_DIR=")) env.emplace_back(entry);
  }
  env.push_back("LD_PRELOAD=" + preload);
  if (!channel_dir.empty()) env.push_back("MEMGATE_SHIM_DIR=" + channel_dir);
  std::vector<char*> env_pointers, argv_pointers;
  for (auto& e : env) env_pointers.push_back(e.data());
  env_pointers.push_back(nullptr);
  std::vector<std::string> args = argv;
  for (auto& a : args) argv_pointers.push_back(a.data());
  argv_pointers.push_back(nullptr);

  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) throw failure("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  const int rc = posix_spawn(&pid_, args[0].c_str(), &actions, nullptr, argv_pointers.data(), env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  to_child_ = in[1];
  from_child_ = out[0];
  if (rc != 0) {
    errno = rc;
    throw failure("posix_spawn " + args[0]);
  }
}

preloaded_process::~preloaded_process() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    finish();
  }
  if (from_child_ >= 0) close(from_child_);
}

std::string preloaded_process::read_line() {
  for (;;) {
    const auto end = buffered_.find('\n');
    if (end != std::string::npos) {
      std::string line = buffered_.substr(0, end);
      buffered_.erase(0, end + 1);
      return line;
    }
    pollfd readable{from_child_, POLLIN, 0};
    if (poll(&readable, 1, 20000) != 1) throw std::runtime_error("no line from the probe within 20 s");
    char chunk[4096];
    const ssize_t n = read(from_child_, chunk, sizeof chunk);
    if (n <= 0) throw std::runtime_error("the probe closed its stdout; it had written: " + buffered_);
    buffered_.append(chunk, static_cast<std::size_t>(n));
  }
}

void preloaded_process::go() {
  if (write(to_child_, "\n", 1) != 1) throw failure("write to the probe");
}

int preloaded_process::finish() {
  if (to_child_ >= 0) close(to_child_);
  to_child_ = -1;
  int status = 0;
  if (pid_ <= 0 || waitpid(pid_, &status, 0) != pid_) return -1;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

probe_step parse_step(const std::string& line) {
  probe_step step;
  std::istringstream words(line);
  words >> step.name;
  for (std::string word; words >> word;) {
    const auto eq = word.find('=');
    if (eq != std::string::npos) step.values[word.substr(0, eq)] = std::stoll(word.substr(eq + 1));
  }
  return step;
}

std::string socket_path(const std::string& channel_dir, pid_t pid) {
  return channel_dir + "/" + std::to_string(pid) + ".sock";
}

boost::json::object query(const std::string& path, const std::string& command) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw failure("socket");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const auto error = failure("connect " + path);
    close(fd);
    throw error;
  }
  const std::string request = command + "\n";
  std::string reply;
  if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char chunk[4096];
    for (ssize_t n; (n = read(fd, chunk, sizeof chunk)) > 0;) reply.append(chunk, static_cast<std::size_t>(n));
  }
  close(fd);
  return boost::json::parse(reply).as_object();
}

long long field(const boost::json::object& sample, const char* key) { return sample.at(key).to_number<long long>(); }

long long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return std::stoll(line.substr(6));
  }
  throw std::runtime_error("no VmRSS for pid " + std::to_string(pid));
}

std::vector<std::string> thread_names(pid_t pid) {
  std::vector<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace memgate::heapshim_test
