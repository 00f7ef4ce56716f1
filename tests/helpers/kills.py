"""Kills at a chosen instant, in the test process, and what a kill must leave alone."""


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
