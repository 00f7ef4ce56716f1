"""`run_search`: one keras-tuner search over a config's sizes, local or distributed.

Everything goes into `DIRECTORY/PROJECT` (default `runs/tune/MODEL-DATA`): keras-tuner's
trials, `trials.csv`/`trials.md` (the summary table, best first, also printed),
`best_hyperparameters.json`, and the best model as `best.keras` with `zoo_meta.json`.
An existing search is never deleted silently: re-running needs `resume` (finished trials are
kept, an interrupted trial is run again, `max_trials` may grow) or `overwrite`. The
distributed mode (keras-tuner's chief/worker) is described in `zoo.tuning.distributed`.
"""

import contextlib
import glob
import json
import os
import sys

import keras

from zoo.datasets.corpus import fit_datasets
from zoo.datasets.corpus import load_corpus
from zoo.models.configs import get_config
from zoo.training.atomic import FolderLock
from zoo.training.reporting import write_results
from zoo.tuning import distributed
from zoo.tuning.hypermodels import hypermodel_for
from zoo.tuning.search import ENV_ORACLE_IP
from zoo.tuning.search import ENV_ORACLE_PORT
from zoo.tuning.search import SearchFailedError
from zoo.tuning.search import check_trials
from zoo.tuning.search import distributed_role
from zoo.tuning.search import format_markdown
from zoo.tuning.search import make_tuner
from zoo.tuning.search import write_report
from zoo.tuning.space import build_space

SETTINGS_FILE = "zoo_tune.json"


def _settings(o, config, space):
    return {"model": config.name, "tuner": o.tuner, "data": o.data,
            "data_dir": o.data_dir, "corpus_tokens": o.corpus_tokens,
            "corpus_vocab": o.corpus_vocab, "seed": o.seed,
            "batch_size": config.batch_size, "num_steps": config.num_steps,
            "epochs": config.max_max_epoch, "steps_per_epoch": config.steps_per_epoch,
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
                   "start over with --overwrite (or restore the file)")
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
            f"--resume: the search in {project_dir} was started with other settings "
            f"({', '.join(f'{k}: {saved[k]!r} now {settings[k]!r}' for k in changed)}); "
            "use the same options, another --project-name, or --overwrite")


def project_folder(options, config):
    """DIRECTORY/PROJECT of the search: `project_name` default MODEL-DATA."""
    return os.path.join(options.directory, _project_name(options, config))


def _project_name(options, config):
    return options.project_name or f"{config.name}-{options.data}"


def run_search(options):
    """Runs the search `train.py tune` describes; returns the exit status (0 ok, 1 every
    trial failed or the search stopped).

    Args:
        options: an object with the `train.py tune` options as attributes (`model`, `tuner`,
            `max_trials`, `executions_per_trial`, `directory`, `project_name`, `resume`,
            `overwrite`, `epochs`, `batch_size`, `num_steps`, `steps_per_epoch`, `data`,
            `data_dir`, `corpus_tokens`, `corpus_vocab`, `space` (JSON text or file),
            `space_flags` ({"--hidden-sizes": "8:32", ...}), `seed`, `jit`, `verbose`,
            `wait_timeout`), e.g. its parsed `argparse.Namespace`.

    Raises:
        ValueError: bad options, an empty or invalid search space, an existing search
            without `resume`/`overwrite`, too little data for the batch shape, a damaged
            search state, a dead peer in a distributed search, a project in use by
            another search (a lock beside it, DIRECTORY/.PROJECT.lock, held by the local
            search or the chief while they run).
    """
    o = options
    if o.resume and o.overwrite:
        raise ValueError("pass --resume or --overwrite, not both")
    role = distributed_role()
    if role == "chief":  # before the data is loaded: a taken port is one quick error
        try:
            distributed.check_port_free(os.environ[ENV_ORACLE_IP], os.environ[ENV_ORACLE_PORT])
        except distributed.DistributedTuningError as e:
            raise ValueError(str(e)) from None
    config = get_config(o.model)
    if config.family == "seq2seq":
        raise ValueError(f"--model {config.name} is a seq2seq model; tune a word, char "
                         "or bigram language model")
    config = config.with_flags(epochs=o.epochs, batch_size=o.batch_size, num_steps=o.num_steps,
                               steps_per_epoch=o.steps_per_epoch)
    space = build_space(config, o.space, o.space_flags)
    corpus = load_corpus(o.data, config.family, o.data_dir, o.corpus_tokens,
                         o.corpus_vocab, seed=o.seed)
    hypermodel = hypermodel_for(config, len(corpus.vocab), space=space, seed=o.seed,
                                jit_compile=True if o.jit else "auto")
    project_dir = project_folder(o, config)
    lock = contextlib.nullcontext()
    if role != "worker":  # a distributed search's workers write into the chief's project
        os.makedirs(o.directory, exist_ok=True)
        # Beside the project, not in it: overwrite deletes the project folder.
        path = os.path.join(o.directory, f".{_project_name(o, config)}.lock")
        lock = FolderLock(path, f"the search in {project_dir} is in use by another train.py "
                                f"tune (it holds {path}): wait for it to finish, or choose "
                                "another project_name")
    with lock:
        return _search(o, role, config, corpus, hypermodel, project_dir)


def _search(o, role, config, corpus, hypermodel, project_dir):
    """run_search once the project is locked."""
    settings = _settings(o, config, hypermodel.space)
    exists = os.path.isfile(os.path.join(project_dir, "oracle.json"))
    if role != "worker":
        if exists and not (o.resume or o.overwrite):
            raise ValueError(f"a search already exists in {project_dir}: pass --resume to "
                             "continue it or --overwrite to start over")
        if exists and o.resume:
            _check_state_files(project_dir)
            _check_resume(project_dir, settings)
    elif not o.overwrite:
        _check_state_files(project_dir)
    try:  # keras-tuner 1.4 on TF 2.21 fails every trial without it: say so before training
        import tensorboard  # noqa: F401
    except ImportError:
        raise ValueError("tune needs the tensorboard package (keras-tuner logs every trial "
                         "to it): pip install tensorboard, or pip install "
                         "'lstm-zoo[tune]'") from None

    B, T = config.batch_size, config.num_steps
    try:
        # train.py's datasets and fit arguments (a stream of steps_per_epoch x epochs batches
        # for the text8 recipes); each trial adds train.py's callbacks (LMHyperModel.fit).
        train_ds, valid_ds, fit_kwargs = fit_datasets(config, corpus)
    except ValueError as e:
        raise ValueError(f"{e} (--batch-size {B}, --num-steps {T})".splitlines()[0]) from None
    keras.utils.set_random_seed(o.seed)
    try:
        tuner = make_tuner(hypermodel, o.tuner, max_trials=o.max_trials,
                           executions_per_trial=o.executions_per_trial,
                           directory=o.directory, project_name=_project_name(o, config),
                           overwrite=o.overwrite and role != "worker", seed=o.seed,
                           max_epochs=config.max_max_epoch)
    except ValueError as e:
        raise ValueError(f"--tuner {o.tuner}: {str(e).splitlines()[0]}") from None
    except (KeyError, TypeError, RuntimeError) as e:  # a state file of the wrong shape
        if not exists:
            raise
        raise ValueError(f"cannot reload the search in {project_dir} ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}): its state files "
                          "(oracle.json, trial_*/trial.json) are damaged or from another "
                          "version; start over with --overwrite") from None
    if role != "worker":
        write_results(os.path.join(project_dir, SETTINGS_FILE), **settings)
    verbose = o.verbose if o.verbose is not None else (1 if sys.stdout.isatty() else 2)
    where = {None: "", "chief": " (chief: serving trials to the workers)",
             "worker": f" (worker {os.environ.get('KERASTUNER_TUNER_ID')})"}[role]
    print(f"tuning {config.name} on {corpus.name} ({len(corpus.vocab)} symbols, batch {B} x "
          f"{T} steps, {config.max_max_epoch} epoch(s) per trial) with {o.tuner}, "
          f"{o.max_trials} trial(s), in {project_dir}{where}")
    print(f"search space: {json.dumps(hypermodel.space)}")
    stopped = None
    try:
        if role == "chief":  # keras-tuner's chief waits for ever for a dead worker
            distributed.serve_chief(tuner, verbose=verbose, wait_timeout=o.wait_timeout)
        else:
            if role == "worker":
                distributed.make_patient(tuner, wait_timeout=o.wait_timeout)
            tuner.search(train_ds, validation_data=valid_ds, verbose=verbose, **fit_kwargs)
    except distributed.DistributedTuningError as e:
        raise ValueError(str(e)) from None
    except RuntimeError as e:  # keras-tuner gives up after consecutive failed trials
        if "consecutive failures" not in str(e):
            raise
        lines = [line for line in str(e).strip().splitlines() if line.strip()]
        stopped = f"the search stopped: {lines[0]} (last: {lines[-1].strip()})"

    if role == "worker":
        print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')}: no trials left")
        return 0
    rows, best_path = write_report(
        tuner, hypermodel, project_dir, corpus=corpus,
        extra={"model": config.name, "data": corpus.name, "tuner": o.tuner,
               "objective": "val_perplexity (min), batch "
                            f"{B} x {T} steps on the validation split"})
    print(format_markdown(rows))
    try:
        check_trials(tuner)
    except SearchFailedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if stopped:
        print(f"error: {stopped}", file=sys.stderr)
        return 1
    best = rows[0]
    print(f"best trial {best['trial_id']}: val_perplexity {best['val_perplexity']:.3f} "
          f"(batch {B} x {T} steps); table in {os.path.join(project_dir, 'trials.csv')}, "
          f"hyperparameters in {os.path.join(project_dir, 'best_hyperparameters.json')}"
          + (f", model in {best_path}" if best_path else ""))
    return 0
