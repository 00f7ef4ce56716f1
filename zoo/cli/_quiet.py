"""A quiet start: TensorFlow's C++ start-up log stays off the command line's stderr.

`TF_CPP_MIN_LOG_LEVEL=3` (set by `zoo.cli.main` unless the user set it) silences what
TensorFlow logs once its logging is initialised, such as "E0000 ... failed call to cuInit"
on a machine without a GPU. A few lines come before that, while TensorFlow's libraries load,
and no setting reaches them (TensorFlow 2.21: "WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR" and the INFO lines "I0000 ...
port.cc ... oneDNN" and "I0000 ... cudart_stub.cc ... Could not find cuda drivers").

`quiet_tensorflow_start()` makes the first `import tensorflow` of the process run with the
process's stderr (file descriptor 2) sent to a temporary file, then writes back everything
but those INFO lines: a warning or an error the import prints still reaches the user. The
hook is an import finder, so `--help` and argument errors still answer without TensorFlow,
and it does nothing once TensorFlow is imported.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

#: The lines TensorFlow prints while its libraries load, before its log level applies.
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|I\d{4} .*)$")


@contextlib.contextmanager
def _start_up_lines_dropped():
    """Sends file descriptor 2 to a temporary file; writes its lines back but the noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not STARTUP_NOISE.match(line.rstrip("\n")))
            if kept:
                os.write(2, kept.encode("utf-8"))


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as usual, and loads it with the start-up lines dropped."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the next finders find the real spec
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            with _start_up_lines_dropped():
                load(module)

        spec.loader.exec_module = exec_module
        return spec


def quiet_tensorflow_start():
    """Drops TensorFlow's start-up INFO lines from the first `import tensorflow` (if any)."""
    if "tensorflow" in sys.modules:
        return
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
