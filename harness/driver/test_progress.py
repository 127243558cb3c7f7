"""Progress: plain lines off a terminal, a bar on one (a real pty), and both through ./memgate."""

import io
import os
import pty
import select
import subprocess
import time

import pytest

from harness.driver.binaries import REPO_ROOT
from harness.driver.progress import ERASE_LINE, Progress

MEMGATE = os.path.join(REPO_ROOT, "memgate")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_off_a_terminal_each_step_is_a_plain_line_with_its_figures():
    out, clock = io.StringIO(), Clock()
    with Progress(out, "run", 4, tty=False, clock=clock) as bar:
        bar.start("replicate: server up")
        clock.now += 10
        bar.done("replicate 1 measured")
        bar.line("a message")
    assert out.getvalue().splitlines() == [
        "[1/4] replicate: server up",
        "replicate 1 measured (1/4, 10 s each, 0:30 left, 0:10 elapsed)",
        "a message"]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_step_lines_set_the_count_and_a_resumed_run_is_not_in_the_rate():
    out, clock = io.StringIO(), Clock()
    bar = Progress(out, "matrix", 99, tty=False, clock=clock)
    print("[3/10] case-c: running (h2c)", file=bar, flush=True)  # cases 1 and 2 finished in an earlier run
    assert (bar.completed, bar.total, bar.current) == (2, 10, "case-c: running (h2c)")
    clock.now += 4
    print("[3/10] case-c: ok, 5,000 req/s", file=bar)
    assert (bar.completed, bar.current) == (3, "")  # the same step said again: it has ended
    print("[4/10] case-d: running (h1)", file=bar)
    assert bar.figures() == "3/10, 4 s each, 0:28 left, 0:04 elapsed"
    assert out.getvalue() == "[3/10] case-c: running (h2c)\n[3/10] case-c: ok, 5,000 req/s\n[4/10] case-d: running (h1)\n"


def _read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.2)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode()


def test_on_a_terminal_a_bar_redraws_under_the_messages():
    master, slave = pty.openpty()
    clock = Clock()
    with os.fdopen(slave, "w") as tty:
        with Progress(tty, "twin", 3, clock=clock) as bar:  # a pty: the bar without being told
            assert bar.tty
            bar.start("case: clean ...")
            clock.now += 6
            bar.start("case: clean-rerun ...")
            bar.line("a message")
        screen = _read_all(master)
    os.close(master)
    assert "[1/3]" not in screen  # a step's beginning is the bar's to say
    assert f"{ERASE_LINE}twin [........................] 0/3, 0:00 elapsed  case: clean ..." in screen
    assert "twin [########................] 1/3, 6 s each, 0:12 left, 0:06 elapsed  case: clean-rerun ..." in screen
    assert f"{ERASE_LINE}a message\r\ntwin [########......" in screen  # the message above, the bar under it
    # the block returned: the step begun last counts as ended, and the figures stay on their own line
    assert screen.endswith(f"{ERASE_LINE}twin: 2/3, 3 s each, 0:03 left, 0:06 elapsed\r\n")


def test_the_bar_gives_way_when_the_last_step_ends():
    master, slave = pty.openpty()
    clock = Clock()
    with os.fdopen(slave, "w") as tty:
        with Progress(tty, "abuse", 2, clock=clock) as bar:
            bar.done("  case-a: pass")
            clock.now += 4
            bar.done("  case-b: pass")
            tty.write("the result table\n")  # what the command prints next, on stdout
            tty.flush()
        screen = _read_all(master)
    os.close(master)
    assert screen.endswith(f"  case-b: pass\r\nabuse [####################"
                           f"####] 2/2, 2 s each, 0:00 left, 0:04 elapsed{ERASE_LINE}abuse: 2/2, 2 s each, 0:00 left, "
                           "0:04 elapsed\r\nthe result table\r\n")


def test_the_bar_keeps_time_between_steps():
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as tty:
        with Progress(tty, "run", 2) as bar:
            bar.start("replicate")
            time.sleep(2.5)
        screen = _read_all(master)
    os.close(master)
    assert "0:00 elapsed  replicate" in screen and "0:02 elapsed  replicate" in screen


@pytest.mark.e2e
def test_run_repeat_draws_a_bar_on_a_terminal_and_plain_lines_in_a_pipe(built, tmp_path):
    env = dict(os.environ, TERM="xterm")
    argv = [MEMGATE, "run", "--repeat", "2", "--set", "requests=2000", "--set", "warmup_requests=200"]
    piped = subprocess.run([*argv, "-o", str(tmp_path / "piped.json")], capture_output=True, text=True, env=env,
                           timeout=120)
    assert piped.returncode == 0, piped.stderr
    lines = piped.stderr.splitlines()
    assert lines[0] == "[1/2] replicate: server up, measuring" and lines[1].startswith("replicate 1 measured (1/2, ")
    assert lines[3].startswith("replicate 2 measured (2/2, ") and "\x1b" not in piped.stderr

    master, slave = pty.openpty()
    proc = subprocess.Popen([*argv, "-o", str(tmp_path / "tty.json")], stdout=subprocess.PIPE, stderr=slave,
                            env=env, text=True)
    os.close(slave)
    screen = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        screen.append(data.decode())
    proc.communicate(timeout=120)
    os.close(master)
    text = "".join(screen)
    assert proc.returncode == 0, text
    assert "run adhoc [............" in text and "run adhoc [############............] 1/2" in text
    assert "[1/2]" not in text and "replicate 1 measured\r\n" in text
    assert "run adhoc: 2/2" in text.replace(ERASE_LINE, "\n")
