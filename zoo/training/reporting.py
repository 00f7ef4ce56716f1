"""Run reports: a learning-curve PNG, a numpy-safe results JSON and the machine it ran on."""

import json
import math
import os
import pathlib
import platform
import sys

import numpy as np

from zoo import checks


def _to_jsonable(value):
    """Converts numpy scalars/arrays, paths, tuples and non-finite floats for JSON."""
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "numpy"):  # a backend tensor or a keras Variable
        return _to_jsonable(np.asarray(value.numpy()))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return _to_jsonable(dataclasses.asdict(value))
    return str(value)


def cpu_model():
    """The CPU's model name (Linux `/proc/cpuinfo`, else `platform.processor()`), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _accelerators():
    """Names of the GPUs (or TPUs) the running backend sees; only an imported backend asks."""
    names = []
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        for device in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(device)
            names.append(details.get("device_name", device.name))
    elif "jax" in sys.modules:
        names = [d.device_kind for d in sys.modules["jax"].devices() if d.platform != "cpu"]
    return names


def machine_info():
    """Where a run was measured: CPU model and cores, accelerators, library versions.

    Returns:
        dict with `cpu`, `cpu_cores` (`os.cpu_count()`), `accelerators` (list of names, empty
        on a CPU), `backend`, `python` and the installed `keras`, `tensorflow` and `jax`
        versions (None where not installed).
    """
    from importlib import metadata

    def version(package):
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    backend = os.environ.get("KERAS_BACKEND")
    if "keras" in sys.modules:
        backend = sys.modules["keras"].backend.backend()
    return {"cpu": cpu_model(), "cpu_cores": os.cpu_count(), "accelerators": _accelerators(),
            "backend": backend, "python": platform.python_version(),
            "keras": version("keras"), "tensorflow": version("tensorflow"),
            "jax": version("jax")}


def write_results(path, **fields):
    """Writes `fields` as an indented JSON object to `path`, atomically.

    Numpy scalars and arrays, tensors, tuples, paths and dataclasses are converted;
    NaN becomes `null` and ±inf the strings `"Infinity"`/`"-Infinity"`, so the file is
    strict JSON. Parent directories are created. The file is written to a temporary
    name and renamed, so an interrupted run never leaves half a file.

    Args:
        path: str or path-like, the JSON file to write.
        **fields: the values to store, e.g. `config=..., history=..., test_perplexity=...`.

    Returns:
        The dict that was written (after conversion).

    Example:
    ```python
    write_results("runs/ptb-small/results.json", config=cfg, history=history.history,
                  test_perplexity=np.float32(115.2))
    ```
    """
    path = pathlib.Path(path)
    data = _to_jsonable(fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)
    return data


def plot_learning_curve(
    history_dict, path, metrics=("perplexity", "val_perplexity"), validation_freq=1, title=None
):
    """Plots perplexity and validation perplexity against the epoch, log scale, to a PNG.

    Draws with matplotlib's Agg renderer on a standalone `Figure`, so it needs no
    display and never touches pyplot's global backend or figures. Metrics absent from
    `history_dict` are skipped. Training metrics are plotted at epochs 1, 2, …; `val_`
    metrics at epochs `validation_freq`, `2·validation_freq`, … (where Keras ran
    validation for an int `validation_freq`).

    Args:
        history_dict: dict, `History.history` (metric name → list of per-epoch values),
            or a `keras.callbacks.History`.
        path: str or path-like, the image file to write (parents are created).
        metrics: tuple of str, the keys to plot. Defaults to
            `("perplexity", "val_perplexity")`.
        validation_freq: int, the `validation_freq` given to `fit`. Defaults to `1`.
        title: str or None, the figure title. Defaults to `None`.

    Returns:
        The path written, as a `pathlib.Path`.

    Raises:
        ValueError: if none of `metrics` is in `history_dict`, or `validation_freq` is
            not a positive int.

    Example:
    ```python
    history = model.fit(...)
    plot_learning_curve(history.history, "runs/ptb-small/learning_curve.png")
    ```
    """
    history_dict = getattr(history_dict, "history", history_dict)
    checks.instance("history_dict", history_dict, dict, "a dict of lists or a History")
    validation_freq = checks.positive_int("validation_freq", validation_freq)
    present = [m for m in metrics if history_dict.get(m)]
    if not present:
        checks.invalid("history_dict", f"a dict with at least one of the metrics {list(metrics)}",
                       history_dict, shown=f"a dict with keys {sorted(history_dict)}")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    for m in present:
        values = [float(v) for v in history_dict[m]]
        step = validation_freq if m.startswith("val_") else 1
        epochs = [step * (k + 1) for k in range(len(values))]
        ax.plot(epochs, values, marker="o", label=m)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=path.suffix.lstrip(".") or "png")
    return path


# Run metadata: zoo_meta.json beside a run's checkpoints.

META_FILE = "zoo_meta.json"
META_KINDS = ("word", "char", "seq2seq")


def meta_path(checkpoint):
    """The `zoo_meta.json` beside `checkpoint`."""
    return os.path.join(os.path.dirname(os.path.abspath(checkpoint)), META_FILE)


def write_meta(output_dir, config, kind, vocab=None, **fields):
    """Writes a run's `zoo_meta.json`: its config's fields, its `kind`, its vocabulary.

    Args:
        output_dir: str, the run folder.
        config: a zoo config (anything with `to_dict()`).
        kind: str, "word" or "char" (a language model) or "seq2seq" (the mirror model).
        vocab: list of str, the id → token list (language models).
        **fields: anything else to store (`data`, `settings`, ...).
    """
    extra = {} if vocab is None else {"vocab": list(vocab)}
    write_results(os.path.join(output_dir, META_FILE), config=config.to_dict(), kind=kind,
                  **extra, **fields)


def read_meta(path):
    """Reads and checks the run metadata `zoo_meta.json` at `path`.

    A language-model run's file holds `config` (its config's fields), `kind` ("word" or
    "char") and `vocab`; a mirror run's holds `config` and `kind` "seq2seq".

    Returns:
        dict, the metadata.

    Raises:
        ValueError: one line naming the file, if it is corrupt or not a zoo run's metadata.
    """
    fix = "re-create it by re-running the training command, or restore it from a copy"
    try:
        with open(path, encoding="utf-8-sig") as f:
            meta = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is corrupt ({str(e).splitlines()[0]}): {fix}") from None
    kind = meta.get("kind") if isinstance(meta, dict) else None
    if kind not in META_KINDS or not isinstance(meta.get("config"), dict):
        raise ValueError(f"{path} is not a zoo run's metadata (expected a JSON object with "
                         f"\"kind\" word, char or seq2seq and a \"config\" object): {fix}")
    if kind != "seq2seq" and not (isinstance(meta.get("vocab"), list) and meta["vocab"]):
        raise ValueError(f"{path} has no \"vocab\" list: {fix}")
    return meta
