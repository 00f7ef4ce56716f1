"""`train_lm`: one language-model training run in a run folder, as `train.py` runs it.

The folder is locked while the run trains; an interrupted run resumes from its last finished
epoch (`AtomicBackupAndRestore`); a finished run is left as it is (its results are returned),
or continued from its backup's last commit when more epochs are asked for; a folder holding a
run of other settings is refused unless `overwrite`. The run writes best.keras, final.keras,
history.csv, results.json (with `epochs`, the epochs trained), learning_curve.png and
zoo_meta.json, and keeps backup/ (the state after the last epoch).

The workers of a multi-worker run each lock and check their own folder, then agree on the
epoch to resume from before training (`zoo.training.multi_worker`): a worker killed between
its history row and its backup commit resumes together with its peers, and a worker that
loses a peer stops with one line naming it.
"""

import contextlib
import json
import os
import time

import keras

from zoo.datasets.corpus import fit_datasets
from zoo.datasets.corpus import load_corpus
from zoo.experiments.evaluate import evaluate_stream
from zoo.experiments.run_folder import BACKUP_DIR
from zoo.experiments.run_folder import EPOCHS_KEY
from zoo.experiments.run_folder import PREVIOUS_BACKUP_DIR
from zoo.experiments.run_folder import RESULTS_FILE
from zoo.experiments.run_folder import RunFolderLock
from zoo.experiments.run_folder import announce_finished_run
from zoo.experiments.run_folder import go_back_to
from zoo.experiments.run_folder import history_from_csv
from zoo.experiments.run_folder import make_room
from zoo.experiments.run_folder import prepare_run_folder
from zoo.experiments.run_folder import truncate_history
from zoo.models.lm import build_lm
from zoo.models.lm import compile_lm
from zoo.training import AtomicBackupAndRestore
from zoo.training import AtomicModelCheckpoint
from zoo.training import BackupError
from zoo.training import atomic_save
from zoo.training import distribute as dist
from zoo.training import multi_worker as mw
from zoo.training.recipe import StopOnNaN
from zoo.training.recipe import notebook_valid_results
from zoo.training.recipe import fit_kwargs as recipe_fit_kwargs
from zoo.training.recipe import recipe_callbacks
from zoo.training.reporting import machine_info
from zoo.training.reporting import plot_learning_curve
from zoo.training.reporting import write_meta
from zoo.training.reporting import write_results


def run_settings(config, data, seed, corpus_tokens=None, corpus_vocab=None):
    """What a run's results depend on: stored with its backup and in zoo_meta.json."""
    # The description is prose: rewording a preset must not orphan its runs.
    fields = {k: v for k, v in config.to_dict().items() if k != "description"}
    return json.loads(json.dumps({
        "config": fields, "data": data, "seed": seed,
        "corpus_tokens": corpus_tokens, "corpus_vocab": corpus_vocab}))


def train_lm(config, output_dir, data="synthetic", data_dir=None, corpus_tokens=None,
             corpus_vocab=None, seed=0, overwrite=False, jit=False, distribute=None,
             tensorboard=False, verbose="auto"):
    """Trains the language model `config` in `output_dir`, resuming an interrupted run.

    Args:
        config: LMConfig, the recipe.
        output_dir: str, the run folder (created).
        data, data_dir, corpus_tokens, corpus_vocab: the corpus (`zoo.datasets.corpus`).
        seed: int, seeds the weights, dropout and the generated corpus.
        overwrite: bool, delete the folder's old run (once data and model are ready).
            Without it a finished run of all its epochs (`fit_kwargs(config)`) is not touched
            (its results are returned) and one of fewer epochs is continued.
        jit: bool, XLA-compile the train step.
        distribute: None, "mirrored" or "multi-worker" (`zoo.training.distribute`).
        tensorboard: bool, also log to OUTPUT_DIR/tensorboard.
        verbose: `fit`'s verbosity.

    Returns:
        dict, the results written to results.json, plus `output_dir` (a multi-worker
        worker's own folder).

    Raises:
        ValueError: a bad setting, data too small for the batch shape, a folder in use or
            holding another run (or a finished run of more epochs), a damaged backup; `TrainingDiverged` (a ValueError) when
            the loss stops being finite.
    """
    # A strategy is created before TensorFlow runs any op; a multi-worker one only after the
    # folder's lock and checks (they do not need TensorFlow), so a refused worker tells its
    # peers (`_resume_together`) instead of leaving them waiting.
    strategy = dist.make_strategy(distribute) if distribute not in (None, MULTI) else None
    task = mw.cluster_task() if distribute == MULTI else None
    if task is not None and not task.chief:  # as dist.worker_output_dir
        output_dir = os.path.join(output_dir, f"{task.type}-{task.index}")
    os.makedirs(output_dir, exist_ok=True)
    settings = run_settings(config, data, seed, corpus_tokens, corpus_vocab)
    if distribute == MULTI:  # a worker's backup holds only its own rows
        settings["distribute"] = {"strategy": distribute,
                                  "workers": task.workers if task else 1}
    with contextlib.ExitStack() as stack:
        refusal = state = finished = None
        try:
            stack.enter_context(RunFolderLock(output_dir))
            state, finished = prepare_run_folder(output_dir, settings, overwrite,
                                                 recipe_fit_kwargs(config)["epochs"])
        except ValueError as e:
            refusal = e
        if distribute == MULTI:
            strategy = dist.make_strategy(distribute)
            state, finished = _resume_together(strategy, task, output_dir, refusal, state,
                                               finished)
        elif refusal is not None:
            raise refusal
        if finished is not None and state is None:  # a finished run stays finished
            announce_finished_run(output_dir, finished)
            return {**finished, "output_dir": output_dir}
        corpus = load_corpus(data, config.family, data_dir, corpus_tokens, corpus_vocab,
                             seed=seed)
        run = _Run(config, corpus, output_dir, settings, state, seed)
        run.chief = strategy is None or dist.is_chief(strategy)
        run.task = task
        model, train_ds, valid_ds, fit_kwargs, callbacks = run.prepare(strategy, jit)
        make_room(output_dir, overwrite, finished)  # only now that data and model are ready
        write_meta(output_dir, config, corpus.kind, corpus.vocab, data=corpus.name,
                   settings=settings)
        results = run.fit(model, train_ds, valid_ds, fit_kwargs, callbacks, tensorboard,
                          verbose)
    return {**results, "output_dir": output_dir}


MULTI = "multi-worker"


def _resume_together(strategy, task, output_dir, refusal, state, finished):
    """The workers of a multi-worker run agree, before training, on the epoch to resume.

    Every worker sends whether it refused the run and the epoch it holds; all then resume
    from the smallest (a worker one epoch ahead goes back to its previous commit), or all
    stop with an error (`multi_worker.common_epoch`).

    Returns:
        `(state, finished)` as `prepare_run_folder`'s, after going back if needed.
    """
    if task is None or task.workers < 2:
        if refusal is not None:
            raise refusal
        return state, finished
    epoch = state["epoch"] if state else finished["epochs"] if finished else 0
    previous = mw.previous_epoch(os.path.join(output_dir, BACKUP_DIR),
                                 os.path.join(output_dir, PREVIOUS_BACKUP_DIR), epoch)
    with mw.peer_lost_in_one_line(task):
        records = mw.agree(strategy, (1, 0, mw.NONE) if refusal else (0, epoch, previous))
    if refusal is not None:
        raise refusal
    names = sorted(task.addresses, key=lambda t: (t[0] != "chief", t[1]))
    names = [mw.worker_name(*t) for t in names if t[0] in ("chief", "worker")]
    target = mw.common_epoch(records, names)
    if target == epoch:
        return state, finished
    print(f"going back from epoch {epoch} to epoch {target}, the last epoch every worker "
          "committed")
    return go_back_to(output_dir, target), None


class _Run:
    def __init__(self, config, corpus, output_dir, settings, state, seed):
        self.config, self.corpus, self.output_dir = config, corpus, output_dir
        self.settings, self.state, self.seed = settings, state, seed
        self.initial_epoch = state["epoch"] if state else 0
        self.backup_dir = os.path.join(output_dir, BACKUP_DIR)
        self.history_path = os.path.join(output_dir, "history.csv")
        self.best_path = os.path.join(output_dir, "best.keras")
        self.chief = True  # False on a non-chief worker of a multi-worker run
        self.task = None  # this worker's multi_worker.Task in a multi-worker run

    def prepare(self, strategy, jit):
        """The model, the datasets and the recipe's callbacks (no file is touched yet)."""
        config, B = self.config, self.config.batch_size
        keras.utils.set_random_seed(self.seed)
        _enable_determinism()
        train_ds, valid_ds = fit_datasets(config, self.corpus, self.initial_epoch,
                                          seed=self.seed)
        fit_kwargs = recipe_fit_kwargs(config)
        # A diverged run ends with an error instead of reporting broken weights (tune
        # keeps TerminateOnNaN: a diverged trial is a bad trial).
        # The text8 recipes (summary_frequency) report and validate as the notebook does.
        callbacks = recipe_callbacks(config, on_nan=StopOnNaN(), valid_ids=self.corpus.valid,
                                     vocab=self.corpus.vocab, train_data=train_ds)
        if config.summary_frequency:
            valid_ds = None
        scope = contextlib.nullcontext() if strategy is None else strategy.scope()
        with scope:
            replica_batch = B if strategy is None else dist.replica_batch_size(strategy, B)
            model = build_lm(config, vocab_size=len(self.corpus.vocab), seed=self.seed,
                             batch_size=replica_batch)
            compile_lm(model, config, jit_compile=True if jit else "auto")
        if strategy is not None:  # each replica reads its rows; clipping acts on the sum
            dist.prepare_distributed_model(model)
            train_ds, valid_ds, steps = dist.distribute_for_fit(
                strategy, train_ds, valid_ds, B, fit_kwargs.get("steps_per_epoch"))
            fit_kwargs = {**fit_kwargs, **steps}
        return model, train_ds, valid_ds, fit_kwargs, callbacks

    def fit(self, model, train_ds, valid_ds, fit_kwargs, callbacks, tensorboard, verbose):
        config, corpus, state = self.config, self.corpus, self.state
        # history.csv keeps the rows of the epochs the backup holds; the loggers and the best
        # checkpoint run before the backup, so everything an epoch writes is committed with it.
        best_so_far = None
        if state:
            truncate_history(self.history_path, self.initial_epoch)
            best_so_far = min(history_from_csv(self.history_path).get(
                "val_perplexity", [float("inf")]))
        callbacks.append(keras.callbacks.CSVLogger(self.history_path, append=bool(state)))
        callbacks.append(AtomicModelCheckpoint(
            self.best_path, monitor="val_perplexity", mode="min", save_best_only=True,
            initial_value_threshold=best_so_far))
        if tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(
                os.path.join(self.output_dir, "tensorboard")))
        if self.task is not None:  # so that a worker one epoch ahead can go back
            callbacks.append(mw.PreviousCommit(
                self.backup_dir, os.path.join(self.output_dir, PREVIOUS_BACKUP_DIR)))
        backup = AtomicBackupAndRestore(self.backup_dir, settings=self.settings,
                                        ignore=(EPOCHS_KEY,))
        callbacks.append(backup)

        print(f"model {config.name} ({config.cell} cell, {config.num_layers}x"
              f"{config.hidden_size}), data {corpus.name}: {len(corpus.vocab)} symbols, "
              f"{len(corpus.train):,} training tokens, batch {config.batch_size} x "
              f"{config.num_steps} steps")
        if corpus.floor:
            print(f"the generated corpus's perplexity floor (its exact entropy rate): "
                  f"{corpus.floor:.2f}")
        if state:
            print(f"resuming after epoch {self.initial_epoch} from the backup in "
                  f"{self.backup_dir}")
        start = time.time()
        try:
            with mw.peer_lost_in_one_line(self.task):
                model.fit(train_ds, validation_data=valid_ds, callbacks=callbacks,
                          verbose=verbose, **fit_kwargs)
        except BackupError as e:
            raise ValueError(f"{e}: delete {self.backup_dir} or pass `overwrite=True` to "
                             "start the run afresh") from None
        elapsed = time.time() - start
        atomic_save(model, os.path.join(self.output_dir, "final.keras"))
        # The backup stays: it is the last commit a longer run continues from.
        return self.report(model, elapsed)

    def report(self, model, elapsed):
        """Evaluates the best checkpoint at batch 1; writes results.json and the plot."""
        config, corpus = self.config, self.corpus
        if os.path.isfile(self.best_path):
            model = keras.saving.load_model(self.best_path, compile=False)
        history = history_from_csv(self.history_path)
        speeds = history.get("words_per_sec", [])
        results = {
            "model": config.name, "data": corpus.name, "cell": config.cell, "seed": self.seed,
            "epochs": recipe_fit_kwargs(config)["epochs"],
            "vocab_size": len(corpus.vocab), "train_seconds": elapsed,
            "words_per_sec": sum(speeds) / max(len(speeds), 1),
            "history": history, "config": config.to_dict(), "perplexity_floor": corpus.floor,
            "oov": corpus.oov, "machine": machine_info(),
        }
        if not self.chief:  # a worker holds the chief's weights: only the chief evaluates
            results["evaluated_by"] = "the chief"
        elif config.summary_frequency:
            results.update(notebook_valid_results(model, config, corpus.valid))
        else:
            results["valid_perplexity"] = evaluate_stream(model, config, corpus, corpus.valid)
        if corpus.test is not None and self.chief:
            results["test_perplexity"] = evaluate_stream(model, config, corpus, corpus.test)
        write_results(os.path.join(self.output_dir, RESULTS_FILE), **results)
        if history.get("perplexity"):
            plot_learning_curve(history, os.path.join(self.output_dir, "learning_curve.png"))
        return results


def _enable_determinism():
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
