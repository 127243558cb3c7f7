"""Where the C++ binaries and the shipped data (scenarios/, baselines) are.

In a checkout: $MEMGATE_BUILD_DIR/bin (default <repo>/build/bin) and the checkout itself. Installed
(pip, cmake --install, the .deb): on PATH, then <prefix>/libexec/memgate for the prefix of the
Python install and of each memgate program found on PATH; data under <prefix>/share/memgate.
"""

from __future__ import annotations

import os
import shutil
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_COMMAND = "bash ci/build.sh"
# Programs whose directory tells the install prefix when the Python package sits elsewhere.
PREFIX_PROBES = ("memgate", "refserver-glibc")


class MissingBinary(RuntimeError):
    def __init__(self, path: str, where: str = ""):
        self.path = path
        super().__init__(f"missing binary {path}{where}: build it with `{BUILD_COMMAND}` (or set MEMGATE_BUILD_DIR), "
                         "or install memgate (cmake --install, the .deb) so it is on PATH or in <prefix>/libexec/memgate")


def in_checkout() -> bool:
    """True when this code runs from a source tree (./memgate), not from an installed package."""
    return os.path.isfile(os.path.join(REPO_ROOT, "CMakeLists.txt")) and os.path.isdir(os.path.join(REPO_ROOT, "scenarios"))


def build_dir() -> str:
    return os.environ.get("MEMGATE_BUILD_DIR") or os.path.join(REPO_ROOT, "build")


def install_prefixes() -> list[str]:
    prefixes = [sys.prefix]
    for probe in PREFIX_PROBES:
        found = shutil.which(probe)
        if found:
            prefixes.append(os.path.dirname(os.path.dirname(os.path.realpath(found))))
    return list(dict.fromkeys(prefixes))


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def binary(name: str) -> str:
    if os.environ.get("MEMGATE_BUILD_DIR") or in_checkout():
        path = os.path.join(build_dir(), "bin", name)
        if not _executable(path):
            raise MissingBinary(path)
        return path
    libexec_dirs = [os.path.join(p, "libexec", "memgate") for p in install_prefixes()]
    found = shutil.which(name) or next((p for p in (os.path.join(d, name) for d in libexec_dirs) if _executable(p)), None)
    if not found:
        raise MissingBinary(name, f" (not on PATH nor in {', '.join(libexec_dirs)})")
    return found


def data_dir() -> str:
    """The directory holding scenarios/ and baselines/: the checkout, else <prefix>/share/memgate."""
    if in_checkout():
        return REPO_ROOT
    candidates = [os.path.join(p, "share", "memgate") for p in install_prefixes()]
    return next((c for c in candidates if os.path.isdir(os.path.join(c, "scenarios"))), candidates[0])


def baselines_dir() -> str:
    return os.path.join(data_dir(), "ci", "baselines") if in_checkout() else os.path.join(data_dir(), "baselines")


def results_root() -> str:
    """Where result files go by default: the checkout's results/, else ./results of the caller."""
    return os.path.join(REPO_ROOT if in_checkout() else os.getcwd(), "results")


def server_binary(allocator: str) -> str:
    return binary(f"refserver-{allocator}")


def loadgen_binary() -> str:
    return binary("loadgen")
