"""memgate installed, run with no checkout in sight: cmake --install into a DESTDIR (what the .deb
holds), the .deb unpacked in a scratch root, and the Python package pip-installed into a fresh
--system-site-packages venv, whose pytest then gates a throwaway project through the plugin.

Each runs `memgate run --set requests=2000` from an unrelated directory with PYTHONPATH and
MEMGATE_BUILD_DIR unset, and gate the result against the installed default baseline. The same
throwaway project is gated by the plugin from the venv and from a `pip install --break-system-packages`
into a scratch --root.
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
                 "share/memgate/baselines/default.json", "share/memgate/baselines/default.calibration.json",
                 "share/memgate/python/harness/cli.py",
                 "share/memgate/python/harness/cli_help.py",
                 "share/memgate/python/harness/profile/jeprof_ctl.c", "share/doc/memgate/README.md"):
        assert os.path.isfile(os.path.join(usr, path)), path
    assert not glob.glob(os.path.join(usr, "share/memgate/python/**/test_*.py"), recursive=True)


def test_destdir_install_runs_the_default_scenario(destdir, tmp_path):
    usr = os.path.join(destdir, "usr")
    env = _clean_env([os.path.join(usr, "bin")])
    result = _run_and_gate(os.path.join(usr, "bin", "memgate"), env, str(tmp_path),
                           os.path.join(usr, "share/memgate/baselines/default.json"))
    assert result["config"]["requests"] == 2000


def _package_source(tmp_path) -> str:
    """A copy of what pip builds from, so that what runs afterwards cannot come from the checkout."""
    src = tmp_path / "src"
    for rel in PACKAGE_SOURCES:
        origin = os.path.join(ROOT, rel)
        if os.path.isdir(origin):
            shutil.copytree(origin, src / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, src / rel)
    return str(src)


@pytest.fixture(scope="module")
def venv(destdir, tmp_path_factory) -> str:
    """A fresh --system-site-packages venv with memgate pip-installed from a copy of the sources."""
    tmp_path = tmp_path_factory.mktemp("venv")
    src = _package_source(tmp_path)
    venv = tmp_path / "venv"
    p = _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], 120)
    assert p.returncode == 0, p.stderr
    p = _run([str(venv / "bin/pip"), "install", "-q", "--no-build-isolation", "--no-index", src], 180,
             env=_clean_env([]))
    assert p.returncode == 0, p.stdout + p.stderr
    shutil.rmtree(src)
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


def _use_env(monkeypatch, env: dict[str, str]) -> None:
    for name in ("PYTHONPATH", "MEMGATE_BUILD_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _gate_a_foreign_project(pytester, python: str) -> None:
    """The acceptance: one marked test passes against refserver, the same with --inject-leak=64 fails;
    no conftest, no -p: pytest loads the plugin through its pytest11 entry point."""
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
    res = pytester.run(python, "-m", "pytest", "-p", "no:cacheprovider", timeout=120)
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(["*@memgate: scenario *: live_heap_bytes_per_request = * bytes/request, bound 8*"])
    assert "test_refserver_with_a_leak" in res.stdout.str().split("short test summary")[-1]
    res.stdout.fnmatch_lines(["*- memgate -*", "test *| scenario *| metric *| value *| baseline *| limit *| verdict",
                              "*test_refserver_keeps_its_heap *| live_heap_bytes_per_request *| 8 *| ok",
                              "*test_refserver_with_a_leak *| live_heap_bytes_per_request *| 8 *| FAIL"])


def test_a_foreign_project_gates_with_the_installed_plugin(venv, destdir, pytester, monkeypatch):
    _use_env(monkeypatch, _venv_env(venv, destdir))
    _gate_a_foreign_project(pytester, os.path.join(venv, "bin", "python"))


def test_a_foreign_project_stores_a_run_and_gates_against_it(venv, destdir, pytester, monkeypatch):
    _use_env(monkeypatch, _venv_env(venv, destdir))
    python = os.path.join(venv, "bin", "python")
    pytester.makepyfile(test_server_memory="""
        import os
        import pytest

        LEAK = ["--inject-leak=64"] if os.environ.get("LEAK") else []

        @pytest.mark.memgate(requests=2000, warmup_requests=200, server_args=LEAK)
        def test_refserver():
            pass
    """)
    stored = pytester.path / "stored.json"
    res = pytester.run(python, "-m", "pytest", "-p", "no:cacheprovider", f"--memgate-save={stored}", timeout=120)
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["*test_refserver *| measured (no bound, no --memgate-baseline)",
                              f"memgate: stored 1 test(s) in {stored}"])
    assert list(json.loads(stored.read_text())["tests"]) == ["test_server_memory.py::test_refserver"]

    res = pytester.run(python, "-m", "pytest", "-p", "no:cacheprovider", f"--memgate-baseline={stored}", timeout=120)
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines([f"*- memgate against {stored} -*", "*test_refserver *| live_heap_bytes_per_request *| ok"])

    monkeypatch.setenv("LEAK", "1")
    res = pytester.run(python, "-m", "pytest", "-p", "no:cacheprovider", f"--memgate-baseline={stored}", timeout=120)
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines([f"*memgate baseline {stored}: scenario *: REGRESSION: live_heap_bytes_per_request "
                              "candidate * bytes/request vs baseline * bytes/request; limit * bytes/request (*",
                              "*test_refserver *| live_heap_bytes_per_request *| FAIL"])

    missing = pytester.path / "none.json"
    res = pytester.run(python, "-m", "pytest", "-p", "no:cacheprovider", f"--memgate-baseline={missing}", timeout=60)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines([f"*--memgate-baseline {missing}: no such file: store one first with --memgate-save={missing}"])


@pytest.fixture(scope="module")
def system_root(destdir, tmp_path_factory) -> str:
    """`pip install --break-system-packages` as on a machine without a venv, into a scratch --root
    (never the real system): the files land where they would under /usr/local."""
    tmp_path = tmp_path_factory.mktemp("system")
    src = _package_source(tmp_path)
    root = tmp_path / "root"
    p = _run(["/usr/bin/python3", "-m", "pip", "install", "-q", "--break-system-packages", "--no-build-isolation",
              "--no-index", "--no-warn-script-location", "--root", str(root), src], 180, env=_clean_env([]))
    assert p.returncode == 0, p.stdout + p.stderr
    shutil.rmtree(src)
    return str(root)


def _system_root_env(root: str, destdir: str) -> dict[str, str]:
    (site,) = glob.glob(os.path.join(root, "usr", "local", "lib", "python3*", "dist-packages"))
    env = _clean_env([os.path.join(root, "usr", "local", "bin"), os.path.join(destdir, "usr", "bin")])
    env["PYTHONPATH"] = site  # what /usr/local/lib/python3.X/dist-packages is to the system python
    return env


def test_pip_break_system_packages_installs_the_command_and_the_plugin(system_root, destdir, pytester, monkeypatch):
    env = _system_root_env(system_root, destdir)
    memgate = os.path.join(system_root, "usr", "local", "bin", "memgate")
    p = _run([memgate, "--help"], 30, env=env, cwd=str(pytester.path))
    assert p.returncode == 0 and "run" in p.stdout and "matrix" in p.stdout, p.stdout + p.stderr
    where = _run(["/usr/bin/python3", "-c", "import harness.driver.pytest_plugin as p; print(p.__file__)"],
                 30, env=env, cwd=str(pytester.path))
    assert where.stdout.startswith(system_root), where.stdout + where.stderr
    _use_env(monkeypatch, env)
    _gate_a_foreign_project(pytester, "/usr/bin/python3")


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
