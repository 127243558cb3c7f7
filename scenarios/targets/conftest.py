# The driver's fixtures for built binaries: a clear failure when the build is missing, a skip for a loadgen without --verify.
from harness.driver.conftest import built, verifying_loadgen  # noqa: F401
