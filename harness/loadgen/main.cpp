// loadgen: command line only; see runner.hpp for the run and report.hpp for the output.
#include <iostream>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>

#include "fd_limit.hpp"
#include "options.hpp"
#include "report.hpp"
#include "runner.hpp"

int main(int argc, char** argv) {
  using namespace memgate::loadgen;
  const std::vector<std::string> args(argv, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << usage();
      return 0;
    }
  }
  const auto opts = parse_options(args);
  if (!opts) {
    std::cerr << "loadgen: " << opts.error().message << '\n' << usage();
    return 2;
  }
  const auto fd_limit = raise_open_file_limit();
  if (const auto err = fd_budget_error(opts->connections, fd_limit)) {
    std::cerr << "loadgen: " << *err << '\n';
    return 2;
  }
  hold_control hold;
  hold.on_holding = [](std::uint64_t open) { std::cerr << "HOLDING " << open << std::endl; };
  const run_report report = run_load(*opts, &std::cerr, hold);
  std::cout << boost::json::serialize(to_json(report)) << std::endl;
  return exit_code(report);
}
