"""Running a search and reporting it: tuners, distributed roles, trial tables, failures.

- `make_tuner(hypermodel, "random" | "bayesian" | "hyperband", ...)`: a keras-tuner tuner
  with the zoo's objective (`val_perplexity`, min).
- `distributed_role()`: `None`, `"chief"` or `"worker"` from keras-tuner's environment
  variables (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`).
- `trial_rows(tuner)`, `format_markdown(rows)`, `write_csv(rows, path)`: the summary table.
- `check_trials(tuner)`: raises `SearchFailedError` (with the first trial's error) when no
  trial completed; keras-tuner only records a failed trial's traceback in the trial.
- `write_report(tuner, hypermodel, output_dir, corpus=None)`: `trials.csv`, `trials.md`,
  `best_hyperparameters.json`, and the best model as `best.keras` + `zoo_meta.json`.
"""

import csv
import math
import os
import warnings

import keras_tuner as kt

from zoo import _keras_private
from zoo import checks
from zoo.training.reporting import write_meta
from zoo.training.reporting import write_results
from zoo.tuning.hypermodels import OBJECTIVE

TUNERS = ("random", "bayesian", "hyperband")
ENV_TUNER_ID = "KERASTUNER_TUNER_ID"
ENV_ORACLE_IP = "KERASTUNER_ORACLE_IP"
ENV_ORACLE_PORT = "KERASTUNER_ORACLE_PORT"


class SearchFailedError(RuntimeError):
    """No trial of a search completed (the message is the first failed trial's error), or
    keras-tuner stopped it; `run_search` sets `result` to its `SearchResult`."""

    result = None


def distributed_role(environ=None):
    """`None` (a local search), `"chief"` or `"worker"`, from keras-tuner's env variables.

    keras-tuner runs distributed when `KERASTUNER_ORACLE_IP` is set: the process whose
    `KERASTUNER_TUNER_ID` contains `"chief"` serves the oracle on
    `KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT`, the others (`tuner0`, `tuner1`, ...) ask it
    for trials and run them.

    Raises:
        ValueError: `KERASTUNER_ORACLE_IP` is set without the port or the tuner id, or the
            port is not a number.
    """
    env = os.environ if environ is None else environ
    if ENV_ORACLE_IP not in env:
        return None
    missing = [k for k in (ENV_ORACLE_PORT, ENV_TUNER_ID) if not env.get(k)]
    if missing:
        raise ValueError(f"{ENV_ORACLE_IP} is set but {' and '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not: distributed tuning "
                         f"needs all three")
    if not env[ENV_ORACLE_PORT].isdigit():
        raise ValueError(f"the environment variable {ENV_ORACLE_PORT} must be a port number; "
                         f"it is {env[ENV_ORACLE_PORT]!r}")
    return "chief" if "chief" in env[ENV_TUNER_ID] else "worker"


def make_tuner(hypermodel, tuner="random", max_trials=10, executions_per_trial=1,
               directory=None, project_name=None, overwrite=False, seed=None,
               max_epochs=None, hyperband_factor=3, **kwargs):
    """A keras-tuner tuner searching `hypermodel` for the lowest `val_perplexity`.

    Args:
        hypermodel: an `LMHyperModel`.
        tuner: str, `"random"` (`RandomSearch`), `"bayesian"` (`BayesianOptimization`) or
            `"hyperband"` (`Hyperband`).
        max_trials: int, the number of trials (hyperband: an upper bound on top of its
            brackets).
        executions_per_trial: int, trainings per trial, averaged (random and bayesian).
        directory: str, keras-tuner's directory. The project is `directory/project_name`.
        project_name: str, the project's folder.
        overwrite: bool, delete an existing project first; `False` reloads it and continues.
        seed: int or None, the oracle's seed.
        max_epochs: int, hyperband's `max_epochs` (the epochs of its longest trials).
            Defaults to the hypermodel config's `max_max_epoch`.
        hyperband_factor: int, hyperband's reduction factor. Defaults to `3`.
        **kwargs: passed to the tuner (e.g. `max_consecutive_failed_trials`).

    Returns:
        A `keras_tuner.Tuner`.

    Raises:
        ValueError: unknown tuner name or non-positive counts.
    """
    checks.one_of("tuner", tuner, TUNERS)
    checks.positive_int("max_trials", max_trials)
    checks.positive_int("executions_per_trial", executions_per_trial)
    common = dict(objective=OBJECTIVE, directory=directory, project_name=project_name,
                  overwrite=overwrite, seed=seed, **kwargs)
    if tuner == "random":
        return kt.RandomSearch(hypermodel, max_trials=max_trials,
                               executions_per_trial=executions_per_trial, **common)
    if tuner == "bayesian":
        try:
            import sklearn  # noqa: F401  (keras-tuner's Gaussian process needs it)
        except ImportError:
            raise ValueError("`tuner='bayesian'` needs scikit-learn: pip install "
                             "scikit-learn (or keras-tuner[bayesian])") from None
        return kt.BayesianOptimization(hypermodel, max_trials=max_trials,
                                       num_initial_points=min(max(2, max_trials // 3),
                                                              max_trials),
                                       executions_per_trial=executions_per_trial, **common)
    max_epochs = max_epochs or hypermodel.config.max_max_epoch
    oracle = _BoundedHyperbandOracle(max_trials, objective=OBJECTIVE, max_epochs=max_epochs,
                                     factor=hyperband_factor, seed=seed,
                                     **_oracle_kwargs(kwargs))
    return _Hyperband(oracle, hypermodel, executions_per_trial=executions_per_trial,
                      directory=directory, project_name=project_name, overwrite=overwrite,
                      **kwargs)


_ORACLE_KWARGS = ("hyperparameters", "tune_new_entries", "allow_new_entries",
                  "max_retries_per_trial", "max_consecutive_failed_trials",
                  "hyperband_iterations")


def _oracle_kwargs(kwargs):
    """Moves the oracle's keyword arguments out of a tuner's `kwargs`."""
    return {k: kwargs.pop(k) for k in _ORACLE_KWARGS if k in kwargs}


class _BoundedHyperbandOracle(kt.oracles.HyperbandOracle):
    """keras-tuner's Hyperband oracle, bounded to `max_trials` trials.

    Hyperband sizes itself from `max_epochs` and `factor`; the `Oracle` base class still
    honours `max_trials` (it ends the search there), which `HyperbandOracle` does not take.
    """

    def __init__(self, max_trials, **kwargs):
        super().__init__(**kwargs)
        self.max_trials = max_trials


class _Hyperband(kt.Hyperband):
    """`kt.Hyperband` (its per-bracket epochs and checkpoint reloading) on a given oracle."""

    def __init__(self, oracle, hypermodel, **kwargs):
        # kt.Hyperband.__init__ only builds its own oracle: go on to kt.Tuner's.
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)


def _last_line(message):
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def trials_in_order(tuner):
    """The oracle's trials in the order they were started."""
    oracle = tuner.oracle
    order = _keras_private.trial_start_order(oracle) or sorted(oracle.trials)
    return [oracle.trials[t] for t in order if t in oracle.trials]


def check_trials(tuner):
    """Raises `SearchFailedError` if the search has trials but none completed.

    keras-tuner catches a trial's exception, marks the trial FAILED and keeps its
    traceback in `trial.message`; a search where every trial failed (for instance,
    TensorBoard missing under keras-tuner 1.4.8) returns normally. The error message is
    the first failed trial's exception line.
    """
    trials = trials_in_order(tuner)
    if not trials or any(t.status == "COMPLETED" for t in trials):
        return
    first = trials[0]
    reason = _last_line(first.message) or (
        f"its objective was {first.score}" if first.score is not None else "no error recorded")
    raise SearchFailedError(f"all {len(trials)} trial(s) failed; the first (trial "
                            f"{first.trial_id}, status {first.status}) with: {reason}")


def _metric(trial, name):
    if trial.metrics.exists(name):
        value = trial.metrics.get_last_value(name)
        return None if value is None else float(value)
    return None


def trial_rows(tuner):
    """One dict per trial, best first: id, status, hyperparameters, val_perplexity, words/s.

    Completed trials are sorted by their objective (the best epoch's `val_perplexity`,
    averaged over executions); others follow in start order, with the last line of their
    error in `error`.
    """
    rows = []
    for trial in trials_in_order(tuner):
        row = {"trial_id": trial.trial_id, "status": trial.status}
        row.update(trial.hyperparameters.values)
        row["val_perplexity"] = (None if trial.score is None or
                                 (isinstance(trial.score, float) and math.isnan(trial.score))
                                 else float(trial.score))
        row["perplexity"] = _metric(trial, "perplexity")
        row["words_per_sec"] = _metric(trial, "words_per_sec")
        row["error"] = _last_line(trial.message) if trial.status != "COMPLETED" else ""
        rows.append(row)
    done = [r for r in rows if r["status"] == "COMPLETED" and r["val_perplexity"] is not None]
    rest = [r for r in rows if r not in done]
    return sorted(done, key=lambda r: r["val_perplexity"]) + rest


def _columns(rows):
    columns = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    # Failed-trial errors last; drop the column when no trial failed.
    columns.remove("error") if "error" in columns else None
    if any(r.get("error") for r in rows):
        columns.append("error")
    return columns


def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e6:
            return f"{value:g}"
        if abs(value) >= 1e3:
            return f"{value:,.0f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4g}"
    return str(value)


def format_markdown(rows):
    """The trial table as a GitHub markdown table (best trial first)."""
    if not rows:
        return "(no trials)"
    columns = _columns(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c)).replace("|", "/") for c in columns)
                     + " |")
    return "\n".join(lines)


def write_csv(rows, path):
    """Writes the trial table to `path` as CSV (full precision), atomically."""
    columns = _columns(rows) if rows else ["trial_id", "status", "val_perplexity"]
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    os.replace(tmp, path)


def write_report(tuner, hypermodel, output_dir, corpus=None, extra=None):
    """Writes the search's results into `output_dir` and returns the trial rows.

    Files: `trials.csv` and `trials.md` (every trial, best first), and when a trial
    completed, `best_hyperparameters.json` (trial id, val_perplexity, the hyperparameters and
    the full config) and the best model: `best.keras` (the weights of the best epoch of the
    best trial, as keras-tuner checkpointed them) plus `zoo_meta.json` when `corpus` is given,
    so `zoo.experiments` can evaluate and sample from `output_dir/best.keras`.

    Args:
        tuner: the keras-tuner tuner after `search`.
        hypermodel: its `LMHyperModel` (maps hyperparameters back to an `LMConfig`).
        output_dir: str, where to write (created).
        corpus: `zoo.datasets.corpus.Corpus` or None, the data (its vocabulary goes into
            zoo_meta.json).
        extra: dict or None, more fields for best_hyperparameters.json.

    Returns:
        (rows, best_model_path or None).
    """
    os.makedirs(output_dir, exist_ok=True)
    rows = trial_rows(tuner)
    write_csv(rows, os.path.join(output_dir, "trials.csv"))
    with open(os.path.join(output_dir, "trials.md"), "w") as f:
        f.write(format_markdown(rows) + "\n")
    best_trials = [t for t in tuner.oracle.get_best_trials(1) if t.status == "COMPLETED"]
    if not best_trials:
        return rows, None
    best = best_trials[0]
    config = hypermodel.config_for(best.hyperparameters.copy())
    write_results(os.path.join(output_dir, "best_hyperparameters.json"),
                  trial_id=best.trial_id, val_perplexity=best.score,
                  words_per_sec=_metric(best, "words_per_sec"),
                  hyperparameters=best.hyperparameters.values, config=config,
                  **(extra or {}))
    best_path = os.path.join(output_dir, "best.keras")
    try:
        model = tuner.load_model(best)
    except (OSError, FileNotFoundError, ValueError) as e:
        # A distributed search whose workers wrote their checkpoints elsewhere.
        warnings.warn(f"the best trial's checkpoint could not be loaded "
                      f"({_last_line(str(e))}); retrain it with the hyperparameters in "
                      "best_hyperparameters.json", stacklevel=2)
        return rows, None
    model.save(best_path)
    if corpus is not None:
        write_meta(output_dir, config, corpus.kind, corpus.vocab, data=corpus.name)
    return rows, best_path
