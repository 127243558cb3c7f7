# The driver's fixture for built binaries: a clear failure when the build is missing.
from harness.driver.conftest import built  # noqa: F401
