# The driver's fixture for built binaries, for the CLI's and the profiler's end-to-end tests.
from harness.driver.conftest import built  # noqa: F401
