"""`run_search`: one keras-tuner search over a config's sizes, local or distributed.

Everything goes into `directory/project_name` (default `runs/tune/MODEL-DATA`): keras-tuner's
trials, `trials.csv`/`trials.md` (the summary table, best first, also printed),
`best_hyperparameters.json`, and the best model as `best.keras` with `zoo_meta.json`.
An existing search is never deleted silently: re-running needs `resume=True` (finished
trials are kept, an interrupted trial is run again, `max_trials` may grow) or
`overwrite=True`. The distributed mode (keras-tuner's chief/worker) is described in
`zoo.tuning.distributed`.
"""

import contextlib
import dataclasses
import glob
import json
import os
import sys

import keras

from zoo import checks
from zoo.datasets.corpus import fit_datasets
from zoo.datasets.corpus import load_corpus
from zoo.models.configs import get_config
from zoo.training.atomic import FolderLock
from zoo.training.recipe import fit_kwargs as recipe_fit_kwargs
from zoo.training.reporting import write_results
from zoo.tuning import distributed
from zoo.tuning.hypermodels import hypermodel_for
from zoo.tuning.search import ENV_ORACLE_IP
from zoo.tuning.search import ENV_ORACLE_PORT
from zoo.tuning.search import TUNERS
from zoo.tuning.search import SearchFailedError
from zoo.tuning.search import check_trials
from zoo.tuning.search import distributed_role
from zoo.tuning.search import format_markdown
from zoo.tuning.search import make_tuner
from zoo.tuning.search import write_report
from zoo.tuning.space import build_space

SETTINGS_FILE = "zoo_tune.json"


@dataclasses.dataclass
class SearchResult:
    """What `run_search` found.

    Attributes:
        project_dir: str, the search's folder.
        rows: list of dicts, one per trial, best first (`trials.csv`); empty on a worker.
        best: dict or None, the best completed trial's row (`trial_id`, the
            hyperparameters, `val_perplexity`, ...).
        best_model_path: str or None, `best.keras` when the best model could be saved.
        role: None (a local search), `"chief"` or `"worker"`.
    """

    project_dir: str
    rows: list
    best: dict = None
    best_model_path: str = None
    role: str = None

    @property
    def best_hyperparameters(self):
        """dict or None, the best trial's hyperparameters (as `best_hyperparameters.json`)."""
        if self.best is None:
            return None
        return {k: v for k, v in self.best.items() if k not in _ROW_FIELDS}


_ROW_FIELDS = ("trial_id", "status", "val_perplexity", "perplexity", "words_per_sec", "error")


@dataclasses.dataclass
class _Search:
    """One search's settings, once checked (what the steps of `run_search` share)."""

    config: object
    tuner: str
    max_trials: int
    executions_per_trial: int
    directory: str
    project_name: str
    resume: bool
    overwrite: bool
    seed: int
    verbose: int
    wait_timeout: float
    role: str
    data: dict

    @property
    def project_dir(self):
        return os.path.join(self.directory, self.project_name)


def run_search(config, directory=os.path.join("runs", "tune"), project_name=None,
               tuner="random", max_trials=10, executions_per_trial=1, resume=False,
               overwrite=False, data="synthetic", data_dir=None, corpus_tokens=None,
               corpus_vocab=None, space=None, seed=0, jit=False, verbose="auto",
               wait_timeout=None):
    """Searches `config`'s fields for the lowest validation perplexity with keras-tuner.

    Prints what it tunes, keras-tuner's progress and the trial table; writes the report
    (`zoo.tuning.search.write_report`) into `directory/project_name`.

    Args:
        config: LMConfig or str, the recipe (or a registered config's name) whose fields are
            tuned; its `batch_size`, `num_steps`, epochs and `steps_per_epoch` stay fixed.
        directory: str, keras-tuner's directory. Defaults to `runs/tune`.
        project_name: str or None, the search's folder in `directory`. Defaults to
            `MODEL-DATA`.
        tuner: str, `"random"`, `"bayesian"` or `"hyperband"`. Defaults to `"random"`.
        max_trials: int, trials to run (hyperband: at most this many). Defaults to `10`.
        executions_per_trial: int, trainings per trial, averaged. Defaults to `1`.
        resume: bool, continue the search in the project folder. Defaults to `False`.
        overwrite: bool, delete the search in the project folder first. Defaults to `False`.
        data, data_dir, corpus_tokens, corpus_vocab: the corpus (`zoo.datasets.corpus`).
        space: dict, JSON text, a JSON file's path or None, the search space
            (`zoo.tuning.hypermodels`). Defaults to the config's `default_space`.
        seed: int, seeds the oracle, the weights and the generated corpus. Defaults to `0`.
        jit: bool, XLA-compile the train step. Defaults to `False`.
        verbose: 0, 1, 2 or `"auto"` (1 on a terminal, else 2), keras-tuner's and `fit`'s.
        wait_timeout: float or None, seconds a distributed chief waits for a worker's trial,
            and a worker for the chief, before it raises (`zoo.tuning.distributed`).

    Returns:
        A `SearchResult`.

    Raises:
        ValueError: a bad argument, an empty or invalid search space, an existing search
            without `resume`/`overwrite`, too little data for the batch shape, a damaged
            search state, a dead peer in a distributed search, a project in use by
            another search (a lock beside it, `directory/.project_name.lock`).
        SearchFailedError: every trial failed, or keras-tuner stopped the search after
            consecutive failures (the report is written first; the error's `result` is the
            `SearchResult`).
    """
    s = _checked(config, directory, project_name, tuner, max_trials, executions_per_trial,
                 resume, overwrite, seed, verbose, wait_timeout,
                 dict(data=data, data_dir=data_dir, corpus_tokens=corpus_tokens,
                      corpus_vocab=corpus_vocab))
    if s.role == "chief":  # before the data is loaded: a taken port is one quick error
        try:
            distributed.check_port_free(os.environ[ENV_ORACLE_IP], os.environ[ENV_ORACLE_PORT])
        except distributed.DistributedTuningError as e:
            raise ValueError(str(e)) from None
    space = build_space(s.config, space)
    corpus = load_corpus(data, s.config.family, data_dir, corpus_tokens, corpus_vocab,
                         seed=seed)
    hypermodel = hypermodel_for(s.config, len(corpus.vocab), space=space, seed=seed,
                                jit_compile=True if jit else "auto")
    lock = contextlib.nullcontext()
    if s.role != "worker":  # a distributed search's workers write into the chief's project
        os.makedirs(directory, exist_ok=True)
        # Beside the project, not in it: overwrite deletes the project folder.
        path = os.path.join(directory, f".{s.project_name}.lock")
        lock = FolderLock(path, f"the search in {s.project_dir} is in use by another search "
                                f"(it holds {path}): wait for it to finish, or choose "
                                "another `project_name`")
    with lock:
        return _search(s, corpus, hypermodel)


def _checked(config, directory, project_name, tuner, max_trials, executions_per_trial,
             resume, overwrite, seed, verbose, wait_timeout, data):
    """run_search's arguments, checked, as a `_Search`."""
    if isinstance(config, str):
        config = get_config(config)
    if getattr(config, "family", None) not in ("word", "char", "bigram"):
        checks.invalid("config", "the config of a word, char or bigram language model",
                       config, shown=getattr(config, "name", type(config).__name__))
    checks.one_of("tuner", tuner, TUNERS)
    checks.positive_int("max_trials", max_trials)
    checks.positive_int("executions_per_trial", executions_per_trial)
    if checks.boolean("resume", resume) and checks.boolean("overwrite", overwrite):
        raise ValueError("pass `resume=True` or `overwrite=True`, not both")
    checks.boolean("overwrite", overwrite)
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    checks.one_of("verbose", verbose, (0, 1, 2))
    if wait_timeout is not None:
        wait_timeout = checks.positive_number("wait_timeout", wait_timeout)
    return _Search(config=config, tuner=tuner, max_trials=max_trials,
                   executions_per_trial=executions_per_trial, directory=directory,
                   project_name=project_name or f"{config.name}-{data['data']}",
                   resume=resume, overwrite=overwrite, seed=seed, verbose=verbose,
                   wait_timeout=wait_timeout, role=distributed_role(), data=data)


def _settings(s, space):
    return {"model": s.config.name, "tuner": s.tuner, **s.data, "seed": s.seed,
            "batch_size": s.config.batch_size, "num_steps": s.config.num_steps,
            "epochs": s.config.max_max_epoch, "steps_per_epoch": s.config.steps_per_epoch,
            "space": space}


def _check_state_files(project_dir):
    """Every JSON file keras-tuner (and zoo) reloads from a search must parse: else one error
    naming the file (keras-tuner would raise a bare JSONDecodeError with no file name)."""
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    paths = [os.path.join(project_dir, name) for name in
             ("oracle.json", f"{tuner_id}.json", SETTINGS_FILE)]
    paths += sorted(glob.glob(os.path.join(project_dir, "trial_*", "trial.json")))
    for path in paths:
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            state, reason = None, str(e).splitlines()[0]
        else:
            reason = f"a JSON {type(state).__name__}, not an object"
        if not isinstance(state, dict):
            fix = ("delete that trial's folder to run the trial again"
                   if os.path.basename(path) == "trial.json" else
                   "start over with `overwrite=True` (or restore the file)")
            raise ValueError(f"the search state file {path} is corrupt ({reason}): {fix}")


def _check_resume(project_dir, settings):
    path = os.path.join(project_dir, SETTINGS_FILE)
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    changed = [k for k in settings if k in saved and saved[k] != settings[k]]
    if changed:
        raise ValueError(
            f"`resume=True`: the search in {project_dir} was started with other settings "
            f"({', '.join(f'{k}: {saved[k]!r} now {settings[k]!r}' for k in changed)}); "
            "use the same settings, another `project_name`, or `overwrite=True`")


def _check_project(s, settings):
    """Refuses an existing search without `resume`/`overwrite`, or a damaged one; returns
    whether the project holds a search."""
    exists = os.path.isfile(os.path.join(s.project_dir, "oracle.json"))
    if s.role != "worker":
        if exists and not (s.resume or s.overwrite):
            raise ValueError(f"a search already exists in {s.project_dir}: pass `resume=True` "
                             "to continue it or `overwrite=True` to start over")
        if exists and s.resume:
            _check_state_files(s.project_dir)
            _check_resume(s.project_dir, settings)
    elif not s.overwrite:
        _check_state_files(s.project_dir)
    try:  # keras-tuner 1.4 on TF 2.21 fails every trial without it: say so before training
        import tensorboard  # noqa: F401
    except ImportError:
        raise ValueError("tune needs the tensorboard package (keras-tuner logs every trial "
                         "to it): pip install tensorboard, or pip install "
                         "'lstm-zoo[tune]'") from None
    return exists


def _tuner(s, hypermodel, exists):
    """The keras-tuner tuner of the search; a damaged saved search is one error."""
    try:
        return make_tuner(hypermodel, s.tuner, max_trials=s.max_trials,
                          executions_per_trial=s.executions_per_trial,
                          directory=s.directory, project_name=s.project_name,
                          overwrite=s.overwrite and s.role != "worker", seed=s.seed,
                          max_epochs=s.config.max_max_epoch)
    except ValueError as e:
        raise ValueError(f"`tuner={s.tuner}`: {str(e).splitlines()[0]}") from None
    except (KeyError, TypeError, RuntimeError) as e:  # a state file of the wrong shape
        if not exists:
            raise
        raise ValueError(f"cannot reload the search in {s.project_dir} ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}): its state files "
                         "(oracle.json, trial_*/trial.json) are damaged or from another "
                         "version; start over with `overwrite=True`") from None


def _search(s, corpus, hypermodel):
    """run_search once the project is locked."""
    settings = _settings(s, hypermodel.space)
    exists = _check_project(s, settings)
    config, (B, T) = s.config, (s.config.batch_size, s.config.num_steps)
    # train.py's datasets and fit arguments (a stream of steps_per_epoch x epochs batches for
    # the text8 recipes); each trial adds train.py's callbacks (LMHyperModel.fit).
    train_ds, valid_ds = fit_datasets(config, corpus)
    fit_kwargs = recipe_fit_kwargs(config)
    keras.utils.set_random_seed(s.seed)
    tuner = _tuner(s, hypermodel, exists)
    if s.role != "worker":
        write_results(os.path.join(s.project_dir, SETTINGS_FILE), **settings)
    where = {None: "", "chief": " (chief: serving trials to the workers)",
             "worker": f" (worker {os.environ.get('KERASTUNER_TUNER_ID')})"}[s.role]
    print(f"tuning {config.name} on {corpus.name} ({len(corpus.vocab)} symbols, batch {B} x "
          f"{T} steps, {config.max_max_epoch} epoch(s) per trial) with {s.tuner}, "
          f"{s.max_trials} trial(s), in {s.project_dir}{where}")
    print(f"search space: {json.dumps(hypermodel.space)}")
    stopped = _run_tuner(s, tuner, train_ds, valid_ds, fit_kwargs)
    if s.role == "worker":
        print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')}: no trials left")
        return SearchResult(s.project_dir, [], role=s.role)
    return _report(s, tuner, hypermodel, corpus, stopped)


def _run_tuner(s, tuner, train_ds, valid_ds, fit_kwargs):
    """Runs the trials; returns why keras-tuner stopped the search early, or None."""
    try:
        if s.role == "chief":  # keras-tuner's chief waits for ever for a dead worker
            distributed.serve_chief(tuner, verbose=s.verbose, wait_timeout=s.wait_timeout)
        else:
            if s.role == "worker":
                distributed.make_patient(tuner, wait_timeout=s.wait_timeout)
            tuner.search(train_ds, validation_data=valid_ds, verbose=s.verbose, **fit_kwargs)
    except distributed.DistributedTuningError as e:
        raise ValueError(str(e)) from None
    except RuntimeError as e:  # keras-tuner gives up after consecutive failed trials
        if "consecutive failures" not in str(e):
            raise
        lines = [line for line in str(e).strip().splitlines() if line.strip()]
        return f"the search stopped: {lines[0]} (last: {lines[-1].strip()})"
    return None


def _report(s, tuner, hypermodel, corpus, stopped):
    """Writes and prints the trial table; the `SearchResult`, or its `SearchFailedError`."""
    config = s.config
    rows, best_path = write_report(
        tuner, hypermodel, s.project_dir, corpus=corpus,
        extra={"model": config.name, "data": corpus.name, "tuner": s.tuner,
               "objective": "val_perplexity (min), batch "
                            f"{config.batch_size} x {config.num_steps} steps on the "
                            "validation split"})
    print(format_markdown(rows))
    done = [r for r in rows if r["status"] == "COMPLETED" and r["val_perplexity"] is not None]
    result = SearchResult(s.project_dir, rows, best=done[0] if done else None,
                          best_model_path=best_path, role=s.role)
    try:
        check_trials(tuner)
        if stopped:
            raise SearchFailedError(stopped)
    except SearchFailedError as e:
        e.result = result
        raise
    return result
