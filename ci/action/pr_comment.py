"""The action's comment step: one PR comment carrying report.md, found again by a hidden marker
and edited in place on every push, so the PR's conversation holds one gate comment, not one per
push. Talks to GitHub through `gh api` (GH_TOKEN); the PR comes from GITHUB_EVENT_PATH.

Exit 0 also when there is nothing to post (not a pull_request event) or the post is refused (a
fork's read-only token), with a warning: the gate's verdict, not the comment, decides the job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

MARKER = "<!-- memgate-gate -->"
# GitHub rejects comment bodies over 65,536 characters.
MAX_BODY = 65_000


def pull_request_number(event_path: str | None) -> int | None:
    if not event_path or not os.path.exists(event_path):
        return None
    with open(event_path, encoding="utf-8") as f:
        event = json.load(f)
    return (event.get("pull_request") or {}).get("number")


def body(outdir: str, exit_code: str) -> str:
    report = os.path.join(outdir, "report.md")
    if os.path.exists(report):
        with open(report, encoding="utf-8") as f:
            text = f.read()
    else:
        text = (f"**memgate gate produced no report** (ci/gate.sh exit {exit_code or 'unknown'}: a bad ref, a failed "
                "build or a failed run); see the job's log.\n")
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY] + "\n\n… (cut to fit a comment; the whole report is in the job summary and the artifact)\n"
    return f"{MARKER}\n{text}"


def gh_api(*args: str) -> str:
    return subprocess.run(["gh", "api", *args], check=True, capture_output=True, text=True).stdout


def json_values(text: str) -> list:
    """`gh api --paginate` prints one JSON array per page, back to back: all their items."""
    decoder, items, pos = json.JSONDecoder(), [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        value, pos = decoder.raw_decode(text, pos)
        items.extend(value)
    return items


def existing_comment(repo: str, number: int) -> int | None:
    comments = json_values(gh_api("--paginate", f"repos/{repo}/issues/{number}/comments"))
    return next((c["id"] for c in comments if MARKER in (c.get("body") or "")), None)


def post_or_update(repo: str, number: int, text: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"body": text}, f)
    try:
        comment = existing_comment(repo, number)
        if comment is None:
            gh_api("-X", "POST", f"repos/{repo}/issues/{number}/comments", "--input", f.name)
            return "created"
        gh_api("-X", "PATCH", f"repos/{repo}/issues/comments/{comment}", "--input", f.name)
        return f"updated comment {comment}"
    finally:
        os.unlink(f.name)


def main() -> int:
    number = pull_request_number(os.environ.get("GITHUB_EVENT_PATH"))
    if number is None:
        print("memgate gate: not a pull request event, no comment")
        return 0
    repo = os.environ["GITHUB_REPOSITORY"]
    text = body(os.environ.get("MEMGATE_OUTPUT_DIR") or "memgate-gate", os.environ.get("MEMGATE_EXIT_CODE", ""))
    try:
        what = post_or_update(repo, number, text)
    except subprocess.CalledProcessError as e:
        print(f"::warning::memgate gate: the PR comment failed ({' '.join(e.cmd[:4])} exit {e.returncode}): "
              f"{(e.stderr or '').strip()[:300]}; does the token have pull-requests: write?")
        return 0
    print(f"memgate gate: PR #{number} comment {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
