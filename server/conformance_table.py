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
