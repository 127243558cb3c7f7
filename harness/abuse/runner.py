"""./memgate abuse: run each attack against a fresh refserver and judge its memory and latency.

Per case: start the server, measure a control client's latency (h1 GETs of /bytes/1024 from a
separate process, so the attacker's Python does not skew it), trim and read RSS, run the
attack while polling /proc/<pid>/smaps_rollup, then trim again, read RSS and check /healthz.

SIGINT, SIGTERM or SIGHUP (harness/driver/interrupt.py) stop the case in progress (its server and
control client go with it); the cases finished so far are printed and written (--json), with the
interrupted case named, and Interrupted goes on (exit 128 + the signal).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from harness.abuse import attacks
from harness.driver import reaper
from harness.driver.binaries import REPO_ROOT, MissingBinary, server_binary
from harness.driver.ceiling import MemoryCeiling
from harness.driver.interrupt import Interrupted
from harness.driver.proctree import read_smaps_rollup
from harness.driver.server import RefServer, ServerError
from harness.results import atomic

MiB = 1 << 20
MAX_GROWTH = 32 * MiB
MAX_AFTER = 4 * MiB
MAX_P99_RATIO = 2.0
P99_FLOOR_S = 0.005
MIN_WINDOW_S = 0.5
EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2

# refserver with every limit an attack meets switched off, through its limit flags
# (server/config/config.cpp): the comparison that shows each case's check can fail.
_OFF = 1_000_000_000
UNHARDENED_SERVER_ARGS = [
    f"--max-header-bytes={1 << 30}", f"--max-header-fields={_OFF}", "--header-timeout-ms=4000000000",
    "--send-timeout-ms=4000000000", f"--max-concurrent-streams={_OFF}", f"--max-header-list-bytes={1 << 30}",
    f"--h2-max-outbound-acks={_OFF}", f"--h2-max-queued-frames={_OFF}", f"--h2-max-settings-entries={_OFF}",
    f"--h2-max-continuations={_OFF}", f"--h2-reset-burst={_OFF}", f"--h2-resets-per-second={_OFF}",
    f"--h2-max-oversized-header-lists={_OFF}", f"--h2-useless-frame-budget={_OFF}"]

CONTROL_SCRIPT = r"""
import http.client, json, sys, threading, time
port, path = int(sys.argv[1]), sys.argv[2]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
samples, conn = [], None
while not stop.is_set():
    t = time.monotonic()
    ok = True
    try:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        ok = r.status == 200 and len(body) == 1024
    except Exception:
        ok = False
        try:
            conn.close()
        except Exception:
            pass
        conn = None
    samples.append((t, time.monotonic() - t, ok))
    time.sleep(0.005)
print(json.dumps(samples))
"""


# Floods a server must cut off (GOAWAY ENHANCE_YOUR_CALM, or a close whose reset discarded that
# GOAWAY in the attacker's receive buffer); the ACK floods while they flood, before 1M frames.
# A CONTINUATION flood may be cut off with any GOAWAY or a close.
CUT_OFF_CASES = ("rapid_reset", "settings_flood", "ping_flood", "useless_frames", "hpack_bomb")
CUT_OFF_WHILE_FLOODING = ("settings_flood", "ping_flood")


def cutoff_failures(name: str, cutoff: dict) -> list[str]:
    """What the attack's outcome says the server failed to do, beyond memory and latency."""
    found = []
    if name in CUT_OFF_CASES and cutoff["goaway"] not in ("ENHANCE_YOUR_CALM", None):
        found.append(f"cut off with GOAWAY {cutoff['goaway']}, not ENHANCE_YOUR_CALM")
    elif name in (*CUT_OFF_CASES, "continuation_flood") and not (cutoff["goaway"] or cutoff["closed"]):
        found.append(f"the attacker was never cut off ({cutoff['summary']}, {cutoff['accepted']} {cutoff['unit']})")
    if name in CUT_OFF_WHILE_FLOODING and (not cutoff["closed"] or "stopped reading" in cutoff["summary"]
                                           or cutoff["accepted"] >= 1_000_000):
        found.append(f"the flood was not cut off while it flooded ({cutoff['summary']}, {cutoff['accepted']} frames)")
    if name == "stream_flood" and not (cutoff["rst_stream"].get("REFUSED_STREAM") or cutoff["goaway"] or cutoff["closed"]):
        found.append(f"streams past the concurrency limit were neither refused nor cut off ({cutoff['summary']})")
    if name == "slowloris" and f"{cutoff['accepted']}/{cutoff['accepted']} closed" not in cutoff["summary"]:
        found.append(f"slow header sections were left open ({cutoff['summary']})")
    return found


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(0.99 * (len(v) - 1))))]


@dataclass
class CaseResult:
    name: str
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    cutoff: dict = field(default_factory=dict)
    control_base_p99: float | None = None
    control_attack_p99: float | None = None
    control_errors: int = 0
    control_samples: int = 0
    alive: bool = False
    healthz: bool = False
    failures: list = field(default_factory=list)
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.control_attack_p99 is None or self.control_base_p99 is None:
            return None
        return self.control_attack_p99 / max(self.control_base_p99, P99_FLOOR_S)

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None

    def judge(self) -> None:
        growth, after = self.rss_peak - self.rss_before, self.rss_after - self.rss_before
        if growth >= MAX_GROWTH:
            self.failures.append(f"RSS grew {growth / MiB:.1f} MiB during the attack (limit 32)")
        if after > MAX_AFTER:
            self.failures.append(f"RSS after trim {after / MiB:.1f} MiB above before (limit 4)")
        if self.ratio is None:
            self.failures.append("no control samples during the attack")
        elif self.ratio >= MAX_P99_RATIO:
            self.failures.append(f"control p99 {self.control_attack_p99 * 1e3:.1f} ms is {self.ratio:.1f}x "
                                 f"its baseline (limit 2x)")
        if self.control_errors:
            self.failures.append(f"{self.control_errors} control requests failed")
        if not self.alive:
            self.failures.append("server died")
        elif not self.healthz:
            self.failures.append("/healthz did not answer 200 after the attack")
        for v in self.cutoff.get("violations", []):
            self.failures.append(v)
        if self.cutoff:
            self.failures += cutoff_failures(self.name, self.cutoff)

    def as_dict(self) -> dict:
        return {"case": self.name, "passed": self.passed, "rss_before_bytes": self.rss_before,
                "rss_peak_bytes": self.rss_peak, "rss_after_trim_bytes": self.rss_after,
                "rss_growth_bytes": self.rss_peak - self.rss_before, "cutoff": self.cutoff,
                "control": {"baseline_p99_s": self.control_base_p99, "attack_p99_s": self.control_attack_p99,
                            "ratio": self.ratio, "errors": self.control_errors, "samples": self.control_samples},
                "alive": self.alive, "healthz": self.healthz, "failures": self.failures, "error": self.error}


class _Poller(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop_event = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.peak = max(self.peak, read_smaps_rollup(self.pid)["rss_bytes"])
            except (OSError, KeyError):
                return
            self.stop_event.wait(0.02)


def run_case(name: str, allocator: str, quick: bool, server_args: tuple[str, ...] = (),
             memory_ceiling_bytes: int | None = None) -> CaseResult:
    """memory_ceiling_bytes: kill the server past this RSS (a server without limits may not stop)."""
    res = CaseResult(name)
    binary = server_binary(allocator)
    server = RefServer([binary, "--port", "0", "--threads", "2", *server_args], tls=False, env=os.environ.copy(),
                       cpus=None)
    control = ceiling = None
    try:
        server.start()
        if memory_ceiling_bytes is not None:
            ceiling = MemoryCeiling(server.pid, memory_ceiling_bytes)
            ceiling.start()
        env = dict(os.environ, PYTHONPATH=REPO_ROOT)
        control = reaper.spawn([sys.executable, "-c", CONTROL_SCRIPT, str(server.port), "/bytes/1024"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=env, text=True)
        base_from = time.monotonic()
        time.sleep(0.8 if quick else 3.0)
        server.mem(trim=True)
        res.rss_before = read_smaps_rollup(server.pid)["rss_bytes"]
        poller = _Poller(server.pid)
        poller.peak = res.rss_before
        poller.start()
        t0 = time.monotonic()
        cut = attacks.CASES[name](server.port, quick)
        # the control window covers the attack and its aftermath, at least MIN_WINDOW_S
        time.sleep(max(0.1, t0 + MIN_WINDOW_S - time.monotonic()))
        t1 = time.monotonic()
        poller.stop_event.set()
        poller.join(timeout=2)
        res.rss_peak = poller.peak
        res.cutoff = cut.as_dict()
        out, _ = control.communicate("", timeout=15)
        samples = json.loads(out or "[]")
        base = [lat for t, lat, ok in samples if base_from <= t < t0 - 0.05]
        during = [lat for t, lat, ok in samples if t0 <= t <= t1]
        res.control_errors = sum(1 for t, lat, ok in samples if t0 <= t <= t1 and not ok)
        res.control_samples = len(during)
        res.control_base_p99, res.control_attack_p99 = p99(base), p99(during)
        res.alive = server.alive()
        if res.alive:
            time.sleep(0.2)
            server.mem(trim=True)
            res.rss_after = read_smaps_rollup(server.pid)["rss_bytes"]
            try:
                res.healthz = server.get("/healthz", timeout_s=5)[0] == 200
            except OSError:
                res.healthz = False
        res.judge()
    except ServerError as e:
        res.alive = server.alive()
        res.error = f"{e.kind}: {e}"
        res.failures.append(res.error)
    except OSError as e:  # the attack could not reach the server: it died under the attack
        res.alive = server.alive()
        res.failures.append(f"the attack lost the server: {e}" + ("" if res.alive else "; server died"))
    finally:
        if ceiling is not None:
            ceiling.stop()
            if ceiling.exceeded:
                res.failures.append(ceiling.message())
        if control is not None:
            if control.poll() is None:
                control.kill()
                control.wait(timeout=5)
            reaper.release(control)
        server.stop()
        server.cleanup()
    return res


def _mib(n: int) -> str:
    return f"{n / MiB:.1f}"


def render(results: list[CaseResult], allocator: str, quick: bool) -> str:
    head = ["case", "RSS before", "peak", "after trim", "growth", "cut off by", "accepted", "ctl p99 base",
            "attack", "ratio", "healthz", "verdict"]
    rows = [head]
    for r in results:
        c = r.cutoff
        acc = f"{c.get('accepted', 0)} {c.get('unit', '')}" if c else "-"
        ms = (lambda v: f"{v * 1e3:.1f} ms" if v is not None else "-")
        rows.append([r.name, _mib(r.rss_before) + " MiB", _mib(r.rss_peak), _mib(r.rss_after),
                     f"{(r.rss_peak - r.rss_before) / MiB:+.1f}", (c.get("summary") or "-")[:60], acc,
                     ms(r.control_base_p99), ms(r.control_attack_p99),
                     f"{r.ratio:.2f}x" if r.ratio is not None else "-", "ok" if r.healthz else "FAIL",
                     "pass" if r.passed else "FAIL"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [f"memgate abuse ({'quick' if quick else 'full'}, allocator {allocator}; pass: growth < 32 MiB, "
             f"after trim <= before + 4 MiB, control p99 < 2x baseline (floor 5 ms), alive)"]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if j in (0, 5, 6) else cell.rjust(w)
                               for j, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    for r in results:
        for f in r.failures:
            lines.append(f"FAIL {r.name}: {f}")
    passed = sum(r.passed for r in results)
    lines.append(f"{passed}/{len(results)} cases pass")
    return "\n".join(lines)


def _write_json(path: str | None, results: list[CaseResult], allocator: str, quick: bool,
                interrupted: dict | None) -> None:
    """--json: the cases run; `interrupted` (null when the suite finished) names the signal and the case it stopped."""
    if path:
        atomic.write_text(path, json.dumps({"allocator": allocator, "quick": quick, "cases": [r.as_dict() for r in results],
                                            "passed": interrupted is None and all(r.passed for r in results),
                                            "interrupted": interrupted}, indent=2))


def run_suite(quick: bool, allocator: str, cases: list[str] | None = None, json_path: str | None = None,
              out=None, progress: Callable[[str], None] | None = None) -> int:
    """progress gets a line as each case ends (default: stderr)."""
    out = out or sys.stdout
    progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    names = cases or list(attacks.CASES)
    unknown = [n for n in names if n not in attacks.CASES]
    if unknown:
        print(f"memgate abuse: unknown case(s) {', '.join(unknown)}; known: {', '.join(attacks.CASES)}",
              file=sys.stderr)
        return EXIT_ERROR
    try:
        server_binary(allocator)
    except MissingBinary as e:
        print(f"memgate abuse: {e}", file=sys.stderr)
        return EXIT_ERROR
    results: list[CaseResult] = []
    for name in names:
        try:
            r = run_case(name, allocator, quick)
        except Interrupted as e:  # the case's server and control client are stopped; the finished cases stay
            stopped = {**e.failure(), "case": name, "cases_completed": len(results), "cases": len(names)}
            print(render(results, allocator, quick) + f"\ninterrupted: {stopped['message']}, during case {name} "
                  f"({len(results)} of {len(names)} cases finished)", file=out, flush=True)
            _write_json(json_path, results, allocator, quick, stopped)
            raise
        results.append(r)
        progress(f"  {name}: {'pass' if r.passed else 'FAIL'} ({r.cutoff.get('summary', r.error)})")
    print(render(results, allocator, quick), file=out, flush=True)
    _write_json(json_path, results, allocator, quick, None)
    if any(r.error and not r.alive and r.rss_before == 0 for r in results):
        return EXIT_ERROR  # a server that never started: the suite could not run
    return EXIT_PASS if all(r.passed for r in results) else EXIT_FAIL
