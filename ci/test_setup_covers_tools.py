"""ci/setup.sh installs every external command the test suite and the ci/ scripts run.

The commands are collected from the sources (subprocess argv literals, shutil.which names, CMake
find_program names, and known tool names in ci/**/*.sh), so a test that starts calling a new tool
fails here until setup.sh installs its Debian package and TOOL_PACKAGES says which package that is.
"""

from __future__ import annotations

import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = os.path.join(ROOT, "ci", "setup.sh")

# Part of every Debian system (Essential: yes or priority required): nothing to install.
ESSENTIAL = None
TOOL_PACKAGES: dict[str, str | None] = {
    "addr2line": "binutils", "nm": "binutils", "readelf": "binutils",
    "cc": "build-essential", "gcc": "build-essential",
    "clang": "clang", "cmake": "cmake", "cpack": "cmake", "ctest": "cmake", "ccache": "ccache", "ninja": "ninja-build",
    "curl": "curl", "gh": "gh", "git": "git", "openssl": "openssl", "iperf3": "iperf3",
    "go": "golang-go", "heaptrack": "heaptrack", "python3": "python3",
    "nghttp": "nghttp2-client", "h2load": "nghttp2-client", "nghttpd": "nghttp2-server", "nginx": "nginx-light", "wrk": "wrk",
    "bash": ESSENTIAL, "dpkg-deb": ESSENTIAL, "env": ESSENTIAL, "sleep": ESSENTIAL, "taskset": ESSENTIAL, "true": ESSENTIAL,
}
SUBPROCESS_CALLS = {"run", "Popen", "check_output", "check_call", "call"}
# The tests' own thin wrappers around subprocess.run, called with an argv literal too.
WRAPPER_CALLS = {"_run"}
SKIPPED_DIRS = {".git", "build", "__pycache__", "results"}


def setup_packages(text: str) -> set[str]:
    match = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M)
    assert match, "ci/setup.sh has no packages=( ... ) list"
    return set(re.sub(r"#.*", "", match.group(1)).split())


def _source_files(suffixes: tuple[str, ...], under: str = ROOT):
    for dirpath, dirnames, filenames in os.walk(under):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("build")]
        for name in filenames:
            if name.endswith(suffixes):
                yield os.path.join(dirpath, name)


def _python_commands(path: str) -> set[str]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        first = node.args[0]
        if name == "which" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)
        elif ((name in WRAPPER_CALLS or (name in SUBPROCESS_CALLS and isinstance(node.func, ast.Attribute)))
              and isinstance(first, (ast.List, ast.Tuple)) and first.elts
              and isinstance(first.elts[0], ast.Constant) and isinstance(first.elts[0].value, str)
              and "/" not in first.elts[0].value):
            found.add(first.elts[0].value)
    return found


def _cmake_commands(path: str) -> set[str]:
    with open(path, encoding="utf-8") as f:
        return set(re.findall(r"find_program\(\s*\w+\s+(?:NAMES\s+)?([\w.+-]+)", f.read()))


def _shell_commands(path: str) -> set[str]:
    """Known tools a ci/ script names outside comments (the shell has no argv literals to parse)."""
    with open(path, encoding="utf-8") as f:
        code = "\n".join(line.split("#", 1)[0] if not line.startswith("#!") else "" for line in f)
    return {tool for tool in TOOL_PACKAGES if re.search(rf"(?<![\w./$-]){re.escape(tool)}(?![\w.-])", code)}


def collected_commands() -> dict[str, set[str]]:
    """tool -> the files (relative to the repo) that run it."""
    by_tool: dict[str, set[str]] = {}
    sources = [(p, _python_commands) for p in _source_files((".py",))]
    sources += [(p, _cmake_commands) for p in _source_files(("CMakeLists.txt", ".cmake"))]
    sources += [(p, _shell_commands) for p in _source_files((".sh",), os.path.join(ROOT, "ci"))]
    for path, collect in sources:
        for tool in collect(path):
            by_tool.setdefault(tool, set()).add(os.path.relpath(path, ROOT))
    return by_tool


def uncovered(by_tool: dict[str, set[str]], packages: set[str]) -> list[str]:
    problems = []
    for tool, files in sorted(by_tool.items()):
        where = ", ".join(sorted(files))
        if tool not in TOOL_PACKAGES:
            problems.append(f"{tool} (run by {where}): add its Debian package to TOOL_PACKAGES and ci/setup.sh")
        elif TOOL_PACKAGES[tool] is not ESSENTIAL and TOOL_PACKAGES[tool] not in packages:
            problems.append(f"{tool} (run by {where}): ci/setup.sh does not install {TOOL_PACKAGES[tool]}")
    return problems


def _setup_text() -> str:
    with open(SETUP, encoding="utf-8") as f:
        return f.read()


def test_setup_installs_every_tool_the_suite_runs():
    assert uncovered(collected_commands(), setup_packages(_setup_text())) == []


def test_the_scan_sees_the_tools_the_suite_is_known_to_run():
    by_tool = collected_commands()
    assert "harness/profile/heaptrack.py" in by_tool["heaptrack"]
    assert "harness/driver/test_mem_protocol.py" in by_tool["curl"]
    assert "harness/testservers/CMakeLists.txt" in by_tool["go"]
    assert "ci/build.sh" in by_tool["cmake"]
    assert "ci/test_install.py" in by_tool["cpack"]


def test_a_setup_without_heaptrack_fails_naming_it():
    text = re.sub(r"(?<=\s)heaptrack(?=\s)", "", _setup_text())
    problems = uncovered(collected_commands(), setup_packages(text))
    assert problems and all("heaptrack" in p for p in problems)
    assert "does not install heaptrack" in problems[0]


def test_an_unmapped_tool_fails_naming_the_file():
    problems = uncovered({"frobnicate": {"harness/x.py"}}, setup_packages(_setup_text()))
    assert problems == ["frobnicate (run by harness/x.py): add its Debian package to TOOL_PACKAGES and ci/setup.sh"]
