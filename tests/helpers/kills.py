"""Kills at a chosen instant (in the test process, or of a child process by a real SIGKILL),
and what a kill must leave alone."""

import signal
import time


class Killed(Exception):
    """Stands for SIGKILL at the instant it is raised."""


def kill_on_call(monkeypatch, owner, name, call, before=None, after=False):
    """Patches owner.name so its `call`-th call (1-based) is killed.

    before(args, kwargs) runs first (e.g. writes half a file); after=True lets the call
    finish and kills right after it.
    """
    original = getattr(owner, name)
    count = {"n": 0}

    def patched(*args, **kwargs):
        count["n"] += 1
        if count["n"] != call:
            return original(*args, **kwargs)
        if before:
            before(args, kwargs)
        if after:
            original(*args, **kwargs)
        raise Killed(f"{owner.__name__}.{name} call {call}")

    monkeypatch.setattr(owner, name, patched)


def snapshot(folder):
    """{relative path: (bytes, mtime_ns)} of every file in `folder`."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def sigkill_when(proc, ready, timeout):
    """Sends a real SIGKILL to the child `proc` as soon as `ready()` holds (or after `timeout`
    seconds, or at once if it has exited) and reaps it.

    Returns:
        The child's return code: `-signal.SIGKILL` when the kill came before it ended.
    """
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and proc.poll() is None and not ready():
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode
