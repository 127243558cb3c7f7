"""docs/CONFORMANCE.md, written from the conformance tests themselves so it cannot drift.

Each conformance test names the requirement it proves:

    from server.conformance_table import case

    @case("RFC 9113 6.1", "DATA on stream 0 is a connection error PROTOCOL_ERROR")
    def test_data_on_stream_0(client): ...

A suite is a folder of test_*.py modules, listed in SUITES with its title and a line saying
how every test in it runs. Every test_ function in a suite must carry a case. To add a suite,
add its folder to SUITES and mark its tests the same way. Test
folders are not packages, so pytest imports their modules by bare name: give them names no
other folder uses (test_h2_*.py, test_h1_*.py), and the same for helper modules beside them.

    /usr/bin/python3 -m server.conformance_table --write   # rewrites docs/CONFORMANCE.md
    /usr/bin/python3 -m server.conformance_table           # exits 1 if the file is stale

server/test_conformance_table.py fails while the file differs from what --write would write.
"""
from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "CONFORMANCE.md"


@dataclass(frozen=True)
class Suite:
    title: str
    folder: str  # relative to the repository root
    how: str     # how every test in the suite runs


SUITES = (
    Suite("HTTP/2: RFC 9113 and RFC 7541", "server/http2/conformance",
          "against refserver-glibc over h2c and over TLS (ALPN h2), each case sent in one write and "
          "frame by frame; the exact frame type, error code and stream are asserted"),
    Suite("HTTP/1.1: RFC 9112 and RFC 9110", "server/http1/conformance",
          "against refserver-glibc over a raw loopback socket, each case sent in one write and byte by byte "
          "(long cases in 512-byte pieces); the exact status, the Connection field and whether the server "
          "closes are asserted, and a rejected request's smuggled follower is never answered"),
)


# What the libraries refserver is built on cannot meet by themselves, and what refserver does
# instead: the notes under the tables. Kept here, beside the suites that prove each one.
LIBRARY_NOTES = (
    ("libnghttp2 1.52", (
        "DATA or HEADERS on a stream it has closed are ignored, where RFC 9113 5.1 and 6.1 want STREAM_CLOSED: "
        "refserver remembers how its recent streams closed and answers a connection error after the client's "
        "END_STREAM, a stream error after its RST_STREAM (`session_defences.cpp`).",
        "With RFC 7540 priorities off it skips PRIORITY unread, so PRIORITY on stream 0 (6.3) and a stream "
        "depending on itself (5.3.1) go unanswered: refserver reads each frame header before nghttp2 "
        "(`inbound_frames`) and sends the PROTOCOL_ERROR itself. HEADERS whose priority block depends on its "
        "own stream stays nghttp2's: a connection error, which 5.4.1 allows for a stream error.",
        "HEADERS opening a stream id at or below one already used is ignored, where 5.1.1 wants a connection "
        "error PROTOCOL_ERROR: refserver ends the connection. A HEADERS that reuses a stream both sides closed "
        "long ago gets that PROTOCOL_ERROR too, not STREAM_CLOSED: telling the two apart would mean "
        "remembering every stream id.",
        "Once the peer acknowledged SETTINGS_MAX_CONCURRENT_STREAMS, one stream too many is a connection error "
        "for every stream, where 5.1.2 allows REFUSED_STREAM for that stream alone: refserver tells nghttp2 "
        "twice the limit and refuses past the advertised one itself (`settings.hpp`).",
        "A request it has not seen END_STREAM for could be answered on its HEADERS; 8.1 and 8.1.1 want a "
        "content-length mismatch (and 6.9's zero WINDOW_UPDATE, 6.1's bad padding) judged first: refserver "
        "answers only at END_STREAM.",
    )),
    ("Beast 1.81", (
        "Host is not checked (RFC 9112 3.2: missing, repeated or invalid is 400), nor is Transfer-Encoding "
        "beyond its last coding (6.3: not chunked is 400; 6.1: an HTTP/1.0 request with it is faulty framing; "
        "a coding it cannot decode, 501): `http1/request_checks` does both before any body byte is read.",
        "One limit covers the request line and the fields, so a request-target past it reads as 431: refserver "
        "answers 414 (RFC 9112 3) while the request line is unfinished.",
        "obs-fold is replaced by spaces, which 5.2 allows; refserver refuses it with 400 instead, since a "
        "folded line is one way to make two parsers read a field differently.",
        "Its serializer chunks a body of unknown length for HTTP/1.0 too, which 6.1 forbids: refserver sends "
        "such a body (/stream) without framing and closes the connection to end it.",
        "Trailer fields go into the same field list as the header, and its framing checks apply to them (a "
        "Content-Length trailer is 400). refserver decides the connection's persistence at the header and never "
        "reads the list again, so no trailer changes what it does (RFC 9110 6.5.1).",
        "Empty lines before a request line are a bad method; 9112 2.2 says a server SHOULD ignore at least one: "
        "refserver skips them. An HTTP/1.2 request is a bad version (400), where RFC 9110 2.5 says SHOULD "
        "answer as 1.1: refserver keeps Beast's answer (not a MUST).",
        "Expect: 100-continue is left to the application: refserver sends 100 Continue as soon as the header "
        "is accepted, and a final status without it when it refuses the request (RFC 9110 10.1.1).",
    )),
)


@dataclass(frozen=True)
class Case:
    section: str      # "RFC 9113 6.9.1"
    requirement: str  # what the RFC requires, in one sentence


@dataclass(frozen=True)
class Row:
    case: Case
    test: str  # path::function


def case(section: str, requirement: str):
    """Marks a test as the proof of one requirement."""
    assert re.fullmatch(r"RFC \d+ \d+(\.\d+)*", section), f"section must read 'RFC <n> <a.b.c>': {section!r}"

    def mark(test):
        test.conformance_case = Case(section, requirement)
        return test
    return mark


def _load(path: Path):
    # Test folders are not packages: their modules import siblings by bare name, as under pytest.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = sys.modules.get(path.stem)
    if module is None or getattr(module, "__file__", None) != str(path):
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    return module


def suite_rows(suite: Suite) -> list[Row]:
    rows, unmarked = [], []
    for path in sorted((ROOT / suite.folder).glob("test_*.py")):
        module = _load(path)
        for name, value in vars(module).items():
            if not name.startswith("test_") or not callable(value) or value.__module__ != module.__name__:
                continue
            marked = getattr(value, "conformance_case", None)
            if marked is None:
                unmarked.append(f"{path.name}::{name}")
            else:
                rows.append(Row(marked, f"{suite.folder}/{path.name}::{name}"))
    if unmarked:
        raise ValueError(f"tests without a conformance case in {suite.folder}: {', '.join(unmarked)}")
    return sorted(rows, key=lambda r: (_section_key(r.case.section), r.test))


def _section_key(section: str) -> tuple:
    rfc, number = section.split()[1:]
    return int(rfc), tuple(int(part) for part in number.split("."))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    lines = ["# Protocol conformance", "",
             "One line per requirement refserver is tested against. Generated from the tests by "
             "`/usr/bin/python3 -m server.conformance_table --write`; do not edit by hand.", ""]
    for suite in SUITES:
        lines += [f"## {suite.title}", "", f"Each test runs {suite.how}.", "",
                  "| section | requirement | test |", "|---|---|---|"]
        lines += [f"| {r.case.section} | {_cell(r.case.requirement)} | `{r.test}` |" for r in suite_rows(suite)]
        lines.append("")
    lines += ["## Notes: what the libraries do not meet", "",
              "Requirements libnghttp2 1.52 or Beast 1.81 cannot meet by themselves, and what refserver does instead "
              "(each is a case in the tables above).", ""]
    for library, notes in LIBRARY_NOTES:
        lines += [f"### {library}", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOC.write_text(text)
        return 0
    if not DOC.exists() or DOC.read_text() != text:
        print(f"{DOC.relative_to(ROOT)} is stale: run /usr/bin/python3 -m server.conformance_table --write",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
