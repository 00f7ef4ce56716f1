"""Run by tests/training/test_multi_worker_resume.py as one worker (not collected by pytest).

`python multi_worker_run.py TRAIN_PY_ARGS...` runs `zoo.cli.main` as `train.py` does. With
`ZOO_TEST_SIGKILL=HOOK:N` in the environment, the process SIGKILLs itself (a real kill: no
exception handler, no `finally`, no flush runs) right after the `N`-th call of HOOK:

- `epoch-row`: `CSVLogger.on_epoch_end`, the epoch's history row, which is written before
  the epoch's backup commit (so a kill there leaves the row but not the commit);
- `batch`: `CSVLogger.on_train_batch_end`, a training step (mid-epoch).
"""

import os
import signal
import sys

import keras

from zoo.cli import main

HOOKS = {"epoch-row": "on_epoch_end", "batch": "on_train_batch_end"}


def kill_after(hook, n):
    name = HOOKS[hook]
    original = getattr(keras.callbacks.CSVLogger, name)
    calls = [0]

    def patched(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        calls[0] += 1
        if calls[0] == n:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(keras.callbacks.CSVLogger, name, patched)


if __name__ == "__main__":
    if os.environ.get("ZOO_TEST_SIGKILL"):
        hook, n = os.environ["ZOO_TEST_SIGKILL"].split(":")
        kill_after(hook, int(n))
    main(sys.argv[1:])
