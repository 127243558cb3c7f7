"""memgate harness: the C++ load generator lives in loadgen/, the Python driver in driver/."""
