"""Judges one sanitizer end-to-end run from its result file: exit 1, naming every problem."""

import json
import sys

path = sys.argv[1]
try:
    with open(path) as f:
        r = json.load(f)
except (OSError, ValueError) as e:
    sys.exit(f"{path}: no result file ({e})")
rep = r["replicates"][0] if r.get("replicates") else {}
server = rep.get("server") or {}
tail = server.get("stderr_tail", "")
problems = []
if server.get("exit_code") != 0:
    problems.append(f"server exit: {server.get('exit')}")
if "Sanitizer" in tail or "runtime error:" in tail:
    problems.append("sanitizer report in the server's stderr:\n" + tail)
if r.get("status") != "ok":
    problems.append(f"run failed: {r.get('failure')}")
protocol = (r.get("config") or {}).get("protocol", "?")
if problems:
    sys.exit(f"{protocol}: " + "\n".join(problems))
print(f"{protocol}: {r['metrics']['requests_completed']} requests, server exited 0, no sanitizer report")
