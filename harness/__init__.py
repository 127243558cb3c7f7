"""memgate harness: cli.py (./memgate's commands), the Python driver in driver/, result files in
results/, the profiler in profile/, the abuse suite in abuse/; the C++ load generator in loadgen/."""
