from harness.driver.conftest import built  # noqa: F401  (the binaries fixture)
