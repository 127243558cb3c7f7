"""Where the C++ binaries are: $MEMGATE_BUILD_DIR/bin, default <repo>/build/bin."""

from __future__ import annotations

import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_COMMAND = "bash ci/build.sh"


class MissingBinary(RuntimeError):
    def __init__(self, path: str):
        self.path = path
        super().__init__(f"missing binary {path}: build it with `{BUILD_COMMAND}` (or set MEMGATE_BUILD_DIR)")


def build_dir() -> str:
    return os.environ.get("MEMGATE_BUILD_DIR") or os.path.join(REPO_ROOT, "build")


def binary(name: str) -> str:
    path = os.path.join(build_dir(), "bin", name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise MissingBinary(path)
    return path


def server_binary(allocator: str) -> str:
    return binary(f"refserver-{allocator}")


def loadgen_binary() -> str:
    return binary("loadgen")
