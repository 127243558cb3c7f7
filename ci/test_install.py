"""memgate installed, run with no checkout in sight: cmake --install into a DESTDIR (what the .deb
holds), the .deb unpacked in a scratch root, and the Python package pip-installed into a fresh
--system-site-packages venv, whose pytest then gates a throwaway project through the plugin.

Each runs `memgate run --set requests=2000` from an unrelated directory with PYTHONPATH and
MEMGATE_BUILD_DIR unset, and gate the result against the installed default baseline.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_DIR = os.environ.get("MEMGATE_BUILD_DIR") or os.path.join(ROOT, "build")
# What pip needs to build the package: pyproject.toml's packages, data-files and readme.
PACKAGE_SOURCES = ("pyproject.toml", "README.md", "harness", "analysis", "scenarios", "ci/baselines")


def _run(argv: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


def _clean_env(path_dirs: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEMGATE_BUILD_DIR", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([*path_dirs, "/usr/bin", "/bin"])
    return env


@pytest.fixture(scope="module")
def destdir(tmp_path_factory) -> str:
    if not os.path.isfile(os.path.join(BUILD_DIR, "CMakeCache.txt")):
        pytest.skip(f"no build in {BUILD_DIR}: run `bash ci/build.sh`")
    root = str(tmp_path_factory.mktemp("destdir"))
    p = _run(["cmake", "--install", BUILD_DIR, "--prefix", "/usr", "--component", "runtime"], 120,
             env=dict(os.environ, DESTDIR=root))
    assert p.returncode == 0, p.stderr
    return root


def _run_and_gate(memgate: str, env: dict[str, str], cwd: str, baseline: str) -> dict:
    p = _run([memgate, "run", "--set", "requests=2000"], 120, env=env, cwd=cwd)
    assert p.returncode == 0, p.stdout + p.stderr
    (result_path,) = glob.glob(os.path.join(cwd, "results", "adhoc-*.json"))
    with open(result_path, encoding="utf-8") as f:
        result = json.load(f)
    assert result["status"] == "ok", result.get("failure")
    gate = _run([memgate, "gate", baseline, result_path], 60, env=env, cwd=cwd)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "PASS" in gate.stdout
    return result


def test_the_layout_under_the_prefix(destdir):
    usr = os.path.join(destdir, "usr")
    for path in ("bin/memgate", "bin/refserver-glibc", "libexec/memgate/loadgen",
                 "libexec/memgate/libmemgate_heapshim.so", "share/memgate/scenarios/default.toml",
                 "share/memgate/baselines/default.json", "share/memgate/python/harness/cli.py",
                 "share/memgate/python/harness/profile/jeprof_ctl.c", "share/doc/memgate/README.md"):
        assert os.path.isfile(os.path.join(usr, path)), path
    assert not glob.glob(os.path.join(usr, "share/memgate/python/**/test_*.py"), recursive=True)


def test_destdir_install_runs_the_default_scenario(destdir, tmp_path):
    usr = os.path.join(destdir, "usr")
    env = _clean_env([os.path.join(usr, "bin")])
    result = _run_and_gate(os.path.join(usr, "bin", "memgate"), env, str(tmp_path),
                           os.path.join(usr, "share/memgate/baselines/default.json"))
    assert result["config"]["requests"] == 2000


@pytest.fixture(scope="module")
def venv(destdir, tmp_path_factory) -> str:
    """A fresh --system-site-packages venv with memgate pip-installed from a copy of the sources."""
    tmp_path = tmp_path_factory.mktemp("venv")
    src = tmp_path / "src"
    for rel in PACKAGE_SOURCES:
        origin = os.path.join(ROOT, rel)
        if os.path.isdir(origin):
            shutil.copytree(origin, src / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, src / rel)
    venv = tmp_path / "venv"
    p = _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], 120)
    assert p.returncode == 0, p.stderr
    p = _run([str(venv / "bin/pip"), "install", "-q", "--no-build-isolation", "--no-index", str(src)], 180,
             env=_clean_env([]))
    assert p.returncode == 0, p.stdout + p.stderr
    shutil.rmtree(src)  # what runs next must come from the venv, not from a source tree
    return str(venv)


def _venv_env(venv: str, destdir: str) -> dict[str, str]:
    return _clean_env([os.path.join(venv, "bin"), os.path.join(destdir, "usr", "bin")])


def test_pip_install_into_a_venv_runs_with_the_installed_binaries(venv, destdir, tmp_path):
    env = _venv_env(venv, destdir)
    python = os.path.join(venv, "bin", "python")
    where = _run([python, "-c", "import harness, analysis; print(harness.__file__, analysis.__file__)"],
                 30, env=env, cwd=str(tmp_path))
    assert where.stdout.split() and all(f.startswith(venv) for f in where.stdout.split()), where.stdout
    _run_and_gate(os.path.join(venv, "bin", "memgate"), env, str(tmp_path),
                  os.path.join(venv, "share/memgate/baselines/default.json"))


def test_a_foreign_project_gates_with_the_installed_plugin(venv, destdir, pytester, monkeypatch):
    """No conftest, no -p: the venv's pytest loads the plugin through its pytest11 entry point."""
    for name, value in _venv_env(venv, destdir).items():
        monkeypatch.setenv(name, value)
    for name in ("PYTHONPATH", "MEMGATE_BUILD_DIR"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_server_memory="""
        import pytest

        @pytest.mark.memgate(requests=2000, warmup_requests=200, live_heap_bytes_per_request=8)
        def test_refserver_keeps_its_heap():
            pass

        @pytest.mark.memgate(requests=2000, warmup_requests=200, server_args=["--inject-leak=64"],
                             live_heap_bytes_per_request=8)
        def test_refserver_with_a_leak():
            pass
    """)
    res = pytester.run(os.path.join(venv, "bin", "python"), "-m", "pytest", "-p", "no:cacheprovider", timeout=120)
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(["*@memgate: scenario *: live_heap_bytes_per_request = * bytes/request, bound 8*"])
    assert "test_refserver_with_a_leak" in res.stdout.str().split("short test summary")[-1]


def test_the_deb_unpacked_in_a_scratch_root_runs_the_default_scenario(destdir, tmp_path):
    p = _run(["cpack", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"), "-B", str(tmp_path / "pkg")], 300)
    assert p.returncode == 0, p.stdout + p.stderr
    (deb,) = glob.glob(str(tmp_path / "pkg" / "memgate_*_amd64.deb"))
    info = _run(["dpkg-deb", "--field", deb, "Depends"], 30).stdout
    assert "python3" in info and "libnghttp2" in info, info
    root = tmp_path / "root"
    p = _run(["dpkg-deb", "-x", deb, str(root)], 60)
    assert p.returncode == 0, p.stderr
    usr = os.path.join(root, "usr")
    work = tmp_path / "work"
    work.mkdir()
    _run_and_gate(os.path.join(usr, "bin", "memgate"), _clean_env([os.path.join(usr, "bin")]), str(work),
                  os.path.join(usr, "share/memgate/baselines/default.json"))
