"""The baseline of `memgate profile --against`: a stored profile, a result file's config profiled
here, or a git ref built in a worktree and profiled on its binaries."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from typing import Any, Callable

from harness.driver import reaper, scenario as scenario_mod
from harness.driver.binaries import REPO_ROOT
from harness.profile.run import INTERRUPTED_KIND, ProfileError, profile_run


def load_against(path: str) -> tuple[str, Any]:
    """('profile', profile dict) for a profile.json or a directory holding one; ('scenario', Scenario) for a result."""
    if os.path.isdir(path):
        path = os.path.join(path, "profile.json")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ProfileError(f"cannot read {path}: {e}") from None
    if isinstance(data, dict) and data.get("kind") == "memgate-profile":
        return "profile", data
    if isinstance(data, dict) and data.get("kind") == INTERRUPTED_KIND:
        stopped = data.get("interrupted") or {}
        raise ProfileError(f"{path} is a profile stopped by {stopped.get('signal')} during its {stopped.get('phase')}, "
                           "before any site was collected: profile the baseline again")
    if isinstance(data, dict) and isinstance(data.get("config"), dict):
        raw = {k: v for k, v in data["config"].items() if v is not None}  # None: the key's default
        if raw.get("endpoints") is not None:
            raw.pop("endpoint", None)
        try:
            return "scenario", scenario_mod.from_dict(raw, source=path)
        except scenario_mod.ScenarioError as e:
            raise ProfileError(f"{path}: its config is not a usable scenario: {e}") from None
    raise ProfileError(f"{path} is neither a memgate profile.json nor a result file with a config")


@contextlib.contextmanager
def _binaries_of(build_dir: str, source_dir: str):
    """The driver takes its binaries (and the commit it records) from these while inside."""
    saved = {k: os.environ.get(k) for k in ("MEMGATE_BUILD_DIR", "MEMGATE_SOURCE_DIR")}
    os.environ["MEMGATE_BUILD_DIR"], os.environ["MEMGATE_SOURCE_DIR"] = build_dir, source_dir
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def profile_ref(ref: str, sc: scenario_mod.Scenario, profiler: str, workdir: str,
                progress: Callable[[str], None]) -> dict[str, Any]:
    """The baseline side of `--against REF`: REF built in a worktree (ci/build_ref.sh, as the
    gate builds its refs), then the same scenario profiled on its binaries."""
    script = os.path.join(REPO_ROOT, "ci", "build_ref.sh")
    check = reaper.run(["bash", script, "--check", "REF", ref])
    if check.returncode != 0:
        raise ProfileError(f"--against {ref}: no such file, and {check.stderr.strip().removeprefix('ci/build_ref.sh: ')}")
    tmp = tempfile.mkdtemp(prefix="memgate-profile-ref.")
    try:
        progress(f"building {ref} in a worktree (ci/build_ref.sh) ...")
        # Only what the run needs: the scenario's server and the load generator. Through the reaper: a
        # signal mid-build takes cmake, ninja and the compilers along.
        built = reaper.run(["bash", script, "REF", ref, tmp, f"-DMEMGATE_ALLOCATORS={sc.config['allocator']}",
                            "-DMEMGATE_BUILD_TESTS=OFF"])
        if built.returncode != 0:
            raise ProfileError(built.stderr.strip())
        commit = built.stdout.strip()
        with _binaries_of(os.path.join(tmp, "build"), os.path.join(tmp, "src")):
            prof, _ = profile_run(sc, profiler, workdir, label=f"baseline {ref} ({commit[:12]})", progress=progress)
        prof["ref"] = {"ref": ref, "commit": commit}
        return prof
    finally:
        subprocess.run(["git", "-C", REPO_ROOT, "worktree", "remove", "--force", os.path.join(tmp, "src")],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
