"""Numbers for `memgate compare`: one baseline/candidate pair -> rows of values (no printing).

get_comparison() returns plain data; analysis/render/table.py turns it into text.
"""

from __future__ import annotations

from typing import Any

from analysis import gate

# (key, header, kind): kind tells the renderer how to format a value and a change.
COLUMNS: list[tuple[str, str, str]] = [
    ("scenario", "Scenario", "text"),
    ("protocol", "Protocol", "text"),
    ("requests", "Requests", "count"),
    ("live_heap_delta", "Live heap \u0394", "bytes"),
    ("rss_delta", "RSS \u0394", "bytes"),
    ("peak_rss_growth", "Peak RSS \u0394", "bytes"),
    ("per_protocol", "h1/h2", "text"),
    ("client_failures", "Client failures", "count"),
    ("requests_per_s", "req/s", "rate"),
    ("latency_p99_us", "p99", "us"),
    ("writes_per_response", "writes/resp", "float"),
    ("bytes_copied_per_response", "copied/resp", "bytes"),
    ("allocations_per_request", "allocs/req", "float"),
    ("verdict", "Verdict", "text"),
]


def _values(result: dict[str, Any]) -> dict[str, Any]:
    m = result.get("metrics") or {}
    cfg = result.get("config") or {}
    served = m.get("server_requests") or {}
    per_protocol = f"{served.get('h1', 0):g}/{served.get('h2', 0):g}" if served else "n/a"
    return {
        "scenario": (result.get("scenario") or {}).get("name", "?"),
        "protocol": cfg.get("protocol", "?"),
        "requests": m.get("requests_completed"),
        "live_heap_delta": m.get("live_heap_delta_bytes"),
        "rss_delta": m.get("rss_delta_bytes"),
        "peak_rss_growth": m.get("peak_rss_growth_bytes"),
        "per_protocol": per_protocol,
        "client_failures": m.get("client_failures"),
        "requests_per_s": m.get("requests_per_s"),
        "latency_p99_us": m.get("latency_p99_us"),
        "writes_per_response": m.get("write_calls_per_response"),
        "bytes_copied_per_response": m.get("bytes_copied_per_response"),
        "allocations_per_request": m.get("allocations_per_request"),
    }


def get_comparison(baseline: dict[str, Any], candidate: dict[str, Any],
                   overrides: dict[str, float] | None = None) -> dict[str, Any]:
    """Rows: baseline, candidate, change (candidate - baseline), each a dict keyed by COLUMNS keys."""
    report = gate.evaluate(baseline, candidate, overrides)
    base, cand = _values(baseline), _values(candidate)
    base["verdict"] = "baseline" if baseline.get("status") == "ok" else "INVALID"
    cand["verdict"] = report.verdict
    change: dict[str, Any] = {"scenario": "", "protocol": "", "per_protocol": "", "verdict": ""}
    for key, _, kind in COLUMNS:
        if kind in ("text",):
            continue
        b, c = base.get(key), cand.get(key)
        change[key] = (c - b) if isinstance(b, (int, float)) and isinstance(c, (int, float)) else None
    change["scenario"] = "change"
    base_label, cand_label = dict(base), dict(cand)
    base_label["label"], cand_label["label"], change["label"] = "baseline", "candidate", "change"
    return {
        "columns": COLUMNS,
        "rows": [base_label, cand_label, change],
        "verdict": report.verdict,
        "exit_code": report.exit_code,
        "reasons": [c.long_repr() for c in report.failures] + report.invalid,
        "notes": report.notes,
        "checks": [c.long_repr() for c in report.checks],
    }
