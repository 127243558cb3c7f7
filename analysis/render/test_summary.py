"""`memgate run`'s head line describes the target it measured."""

from analysis.render.summary import render_summary


def _failed(target):
    config = {"protocol": "h1", "allocator": "glibc", "copy": "writev", "method": "GET", "endpoint": "/", "target": target}
    return {"scenario": {"name": "s"}, "config": config, "replicates": [{}], "status": "failed",
            "failure": {"kind": "ready", "message": "never ready"}}


def test_refserver_is_named_by_its_allocator_and_copy_strategy():
    head = render_summary(_failed({"kind": "refserver"})).splitlines()[0]
    assert head == "scenario s (h1, glibc, copy=writev, GET /, 1 replicate(s))"


def test_a_command_target_is_named_by_its_program_not_refservers_switches():
    head = render_summary(_failed({"kind": "command", "argv": ["/usr/sbin/nginx", "-c", "{workdir}/nginx.conf"]})).splitlines()[0]
    assert head == "scenario s (h1, command nginx, GET /, 1 replicate(s))"


def test_an_attached_target_is_named_by_its_pid_or_pidfile():
    assert "(h1, attach pid 4242, GET /" in render_summary(_failed({"kind": "attach", "pid": 4242, "pidfile": None}))
    assert "(h1, attach pidfile /run/x.pid, GET /" in render_summary(_failed({"kind": "attach", "pid": None,
                                                                             "pidfile": "/run/x.pid"}))
    assert "copy=" not in render_summary(_failed({"kind": "attach", "pid": 4242}))
