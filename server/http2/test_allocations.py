"""Steady-state heap allocations per HTTP/2 request, as `memgate run` records them: a count,
not a time, so the bound holds on a loaded machine. A connection in steady state reuses its
stream states and nghttp2's blocks (block_pool.hpp); what is left per request is the
driver's /mem probe and Asio's occasional handler block."""

import pytest

from harness.driver import scenario as sc
from harness.driver.conftest import assert_no_strays, built  # noqa: F401
from harness.driver.runner import run_scenario

pytestmark = pytest.mark.e2e

H2C_MAX_ALLOCATIONS_PER_REQUEST = 3
STEADY = {"requests": 20000, "warmup_requests": 2000, "connections": 4, "streams": 10, "time_limit_s": 60}


def measured(**keys):
    result = run_scenario(sc.from_dict({**STEADY, **keys}, source="test"))
    assert_no_strays(result)
    assert result["status"] == "ok", result["failure"]
    return result["metrics"]


@pytest.mark.parametrize("endpoint", ["/bytes/1024", "/bytes/65536"])
def test_h2c_allocates_at_most_three_blocks_per_request(built, endpoint):
    m = measured(protocol="h2c", endpoint=endpoint)
    assert m["server_requests"]["h2"] == STEADY["requests"]
    assert m["allocations_per_request"] <= H2C_MAX_ALLOCATIONS_PER_REQUEST, m["allocations_per_request_by_protocol"]
    assert m["allocations_per_request_by_protocol"]["h2"]["allocations"] <= 1

