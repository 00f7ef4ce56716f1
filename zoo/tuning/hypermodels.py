"""keras-tuner HyperModels for the zoo's language models.

One `LMHyperModel` per model family (`WordLMHyperModel`, `CharLMHyperModel`,
`BigramLMHyperModel`): `build(hp)` returns the compiled model of a config whose fields are
replaced by hyperparameter values, and `fit(hp, model, ...)` trains it with the zoo's stateful
callbacks, so every trial trains exactly as `train.py` does. The search objective is
`OBJECTIVE`, the validation perplexity (minimised).

A search space is a dict from `LMConfig` field names to one of:

- a dict `{"min": a, "max": b}` with optional `"sampling"` (`"linear"` or `"log"`) and
  `"step"`: a range, `hp.Int` for integer fields and `hp.Float` for the others;
- a list `[v1, v2, ...]`: `hp.Choice` among the values;
- a single value: `hp.Fixed`.

Fields not in the space keep the config's value. The batch size and number of steps are
never tuned: stateful models need them fixed, and the datasets are built with them.
"""

import math

import keras_tuner as kt

from zoo import checks
from zoo.models.configs import LMConfig
from zoo.models.lm import build_lm
from zoo.models.lm import compile_lm
from zoo.training.recipe import fit_kwargs
from zoo.training.recipe import recipe_callbacks

OBJECTIVE = kt.Objective("val_perplexity", direction="min")

# Fields a space may name, and whether they take integer values.
TUNABLE_FIELDS = {
    "hidden_size": int,
    "num_layers": int,
    "embedding_size": int,
    "keep_prob": float,
    "learning_rate": float,
    "max_grad_norm": float,
    "init_scale": float,
    "lr_decay": float,
    "max_epoch": int,
    "cell": str,
    # AWDConfig's (the awd-* presets)
    "dropout_input": float,
    "dropout_hidden": float,
    "dropout_output": float,
    "dropout_embedding": float,
    "weight_dropout": float,
    "ar_alpha": float,
    "tar_beta": float,
}
SAMPLINGS = ("linear", "log")


def _is_number(value):
    """A finite int or float (JSON's NaN and Infinity parse, but no field means them)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def normalize_space(space, config):
    """Checks a search space against `config` and returns it in canonical form.

    Args:
        space: dict, field name → range dict, list of choices or single value (see the
            module docstring).
        config: LMConfig, the recipe whose fields the space replaces.

    Returns:
        A new dict: ranges as `{"min", "max", "sampling"[, "step"]}`, choices as lists.

    Raises:
        ValueError: an empty space, an unknown field, an empty list or range, a value the
            config rejects (e.g. `keep_prob` 1.5), or an integer field given a fractional
            value. The message names the field.
    """
    if not isinstance(space, dict):
        raise ValueError(f"the search space must be a dict, got {type(space).__name__}")
    if not space:
        raise ValueError(
            "the search space is empty: give at least one hyperparameter, e.g. "
            '{"hidden_size": {"min": 64, "max": 512, "sampling": "log"}}'
        )
    out = {}
    for name, spec in space.items():
        if name not in TUNABLE_FIELDS:
            raise ValueError(
                f"search space: unknown hyperparameter {name!r}; tunable fields are "
                f"{', '.join(TUNABLE_FIELDS)} (batch_size and num_steps stay fixed)"
            )
        kind = TUNABLE_FIELDS[name]
        if isinstance(spec, dict):
            unknown = set(spec) - {"min", "max", "sampling", "step"}
            if unknown or "min" not in spec or "max" not in spec:
                raise ValueError(
                    f"search space: {name} range needs 'min' and 'max' (optional 'sampling', "
                    f"'step'), got {sorted(spec)}"
                )
            if kind is str:
                raise ValueError(f"search space: {name} takes a list of values, not a range")
            low, high = spec["min"], spec["max"]
            sampling = spec.get("sampling", "linear")
            step = spec.get("step")
            if not (_is_number(low) and _is_number(high)):
                raise ValueError(f"search space: {name} range bounds must be finite numbers, "
                                 f"got {low!r} and {high!r}")
            if low > high:
                raise ValueError(f"search space: {name} range is empty (min {low} > max {high})")
            if sampling not in SAMPLINGS:
                raise ValueError(f"search space: {name} sampling must be 'linear' or 'log', "
                                 f"got {sampling!r}")
            if sampling == "log" and low <= 0:
                raise ValueError(f"search space: {name} log sampling needs min > 0, got {low}")
            if step is not None and not (_is_number(step) and step > 0):
                raise ValueError(f"search space: {name} step must be a finite number > 0, "
                                 f"got {step!r}")
            if kind is int and not all(float(v).is_integer() for v in (low, high)):
                raise ValueError(f"search space: {name} takes integers, got {low!r}..{high!r}")
            candidates = [low, high]
            if kind is int:
                low, high = int(low), int(high)
                step = None if step is None else int(step)
                candidates = [low, high]
            else:
                low, high = float(low), float(high)
            norm = {"min": low, "max": high, "sampling": sampling}
            if step is not None:
                norm["step"] = step
        elif isinstance(spec, (list, tuple)):
            if len(spec) == 0:
                raise ValueError(f"search space: {name} has no values to try")
            candidates = list(dict.fromkeys(spec))  # unique, in order
            norm = candidates
        else:
            candidates = [spec]
            norm = spec
        for value in candidates:
            if kind is int and _is_number(value) and float(value).is_integer():
                value = int(value)
            if kind is int and not isinstance(value, int):
                raise ValueError(f"search space: {name} takes integers, got {value!r}")
            if kind is float and not _is_number(value):
                raise ValueError(f"search space: {name} takes finite numbers, got {value!r}")
            if kind is str and not isinstance(value, str):
                raise ValueError(f"search space: {name} takes strings, got {value!r}")
            try:
                config.replace(**{name: value})
            except ValueError as e:
                raise ValueError(f"search space: {e}") from None
        if isinstance(norm, list):
            norm = [int(v) if kind is int else (float(v) if kind is float else v) for v in norm]
        out[name] = norm
    return out


def default_space(config):
    """The search space used when none is given: sizes, depth, dropout, rate, clipping.

    Hidden size (log scale), number of layers, embedding size where the model has an
    embedding (word and bigram models, character models with `embedding_size`), keep_prob,
    initial learning rate (log) and max_grad_norm (log). Ranges are centred on the recipe's.
    """
    if getattr(config, "KIND", None) == "awd":
        return awd_space(config)
    lr = config.learning_rate
    space = {
        "hidden_size": {"min": 32 if config.family == "word" else 16,
                        "max": 1024 if config.family == "word" else 512, "sampling": "log"},
        "num_layers": {"min": 1, "max": 3, "sampling": "linear"},
        "keep_prob": {"min": 0.3, "max": 1.0, "sampling": "linear", "step": 0.05},
        "learning_rate": {"min": lr / 10, "max": lr * 3, "sampling": "log"},
        "max_grad_norm": {"min": max(config.max_grad_norm / 4, 0.1),
                          "max": config.max_grad_norm * 4, "sampling": "log"},
    }
    has_embedding = config.family in ("word", "bigram") or config.embedding_size is not None
    if has_embedding:  # tied, the last LSTM layer takes the embedding's size
        space["embedding_size"] = {"min": 32 if config.family == "word" else 8,
                                   "max": 1024 if config.family == "word" else 256,
                                   "sampling": "log"}
    return space


def awd_space(config):
    """The AWD-LSTM search space: the five dropout rates (each range holds the reference's
    value), the inner and embedding (= tied last layer) sizes on a log scale, the depth."""
    def rates(high):
        return {"min": 0.0, "max": high, "sampling": "linear", "step": 0.05}

    embedding = config.embedding_size or config.hidden_size
    return {
        "hidden_size": {"min": max(config.hidden_size // 4, 16),
                        "max": config.hidden_size * 2, "sampling": "log"},
        "embedding_size": {"min": max(embedding // 4, 16), "max": embedding * 2,
                           "sampling": "log"},
        "num_layers": {"min": 2, "max": 3, "sampling": "linear"},
        "dropout_input": rates(0.7),
        "dropout_hidden": rates(0.7),
        "dropout_output": rates(0.7),
        "dropout_embedding": rates(0.3),
        "weight_dropout": rates(0.8),
    }


class LMHyperModel(kt.HyperModel):
    """A keras-tuner HyperModel over the fields of an `LMConfig`.

    `build(hp)` declares one hyperparameter per entry of the search space (named as the
    config field), builds the model with `zoo.models.build_lm` and compiles it with
    `zoo.models.compile_lm` (SGD with `global_clipnorm`, the scaled loss, `Perplexity`).
    `fit(hp, model, ...)` adds, in every trial and every execution, the zoo's callbacks:
    `StatefulRNNCallback` (zero states at epoch start, validation isolated from the training
    states), `WordsPerSecond` (`words_per_sec` in the history and the trial's metrics), the
    recipe's learning-rate schedule started at the trial's `learning_rate`, and
    `TerminateOnNaN`; it trains with `shuffle=False` (stateful batches stay in order) and
    `epochs=config.max_max_epoch` unless given.

    Pass stateful datasets batched at `config.batch_size` × `config.num_steps` to
    `tuner.search(train_ds, validation_data=valid_ds)`; the objective is
    `OBJECTIVE` (`val_perplexity`, min).

    Args:
        config: LMConfig, the recipe: every field not in the space keeps its value.
        vocab_size: int, the data's vocabulary size.
        space: dict or None, the search space (see the module docstring). Defaults to
            `default_space(config)`.
        seed: int or None, seeds the weight initializers and dropout of every trial.
        jit_compile: bool or `"auto"`, passed to `compile`. Defaults to `"auto"`.
        name: str or None, the HyperModel's name.
        tunable: bool, keras-tuner's flag. Defaults to `True`.

    Example:
    ```python
    config = zoo.models.get_config("ptb-small", max_max_epoch=2)
    hypermodel = WordLMHyperModel(config, vocab_size=10000, space={
        "hidden_size": {"min": 64, "max": 512, "sampling": "log"},
        "keep_prob": [0.5, 0.8, 1.0],
    })
    tuner = keras_tuner.RandomSearch(hypermodel, objective=OBJECTIVE, max_trials=10,
                                     directory="runs/tune", project_name="ptb-small")
    tuner.search(train_ds, validation_data=valid_ds)
    best_config = hypermodel.config_for(tuner.get_best_hyperparameters()[0])
    ```
    """

    family = None  # set by the per-family subclasses; None accepts every LM family

    def __init__(self, config, vocab_size, space=None, seed=None, jit_compile="auto",
                 name=None, tunable=True):
        super().__init__(name=name, tunable=tunable)
        if not isinstance(config, LMConfig):
            raise ValueError(f"config must be an LMConfig, got {type(config).__name__}")
        if config.family == "seq2seq":
            raise ValueError(f"config {config.name} is a seq2seq model: the LM hypermodels "
                             "tune word, char and bigram language models")
        if self.family is not None and config.family != self.family:
            raise ValueError(f"{type(self).__name__} tunes {self.family} models; config "
                             f"{config.name} is a {config.family} model")
        self.config = config
        self.vocab_size = checks.positive_int("vocab_size", vocab_size)
        self.space = normalize_space(default_space(config) if space is None else space, config)
        self.seed = seed
        self.jit_compile = jit_compile

    def declare(self, hp):
        """Declares the space's hyperparameters in `hp`; returns their current values."""
        values = {}
        for name, spec in self.space.items():
            if isinstance(spec, dict):
                cls = hp.Int if TUNABLE_FIELDS[name] is int else hp.Float
                if spec["min"] == spec["max"]:
                    values[name] = hp.Fixed(name, spec["min"])
                else:
                    values[name] = cls(name, spec["min"], spec["max"], step=spec.get("step"),
                                       sampling=spec["sampling"])
            elif isinstance(spec, list):
                values[name] = hp.Choice(name, spec)
            else:
                values[name] = hp.Fixed(name, spec)
        return values

    def config_for(self, hp):
        """The `LMConfig` of the trial whose hyperparameters are `hp`.

        Args:
            hp: keras_tuner.HyperParameters, e.g. `tuner.get_best_hyperparameters()[0]`.
        """
        values = self.declare(hp)
        for name, value in values.items():
            if TUNABLE_FIELDS[name] is int:
                values[name] = int(value)
            elif TUNABLE_FIELDS[name] is float:
                values[name] = float(value)
        return self.config.replace(**values)

    def build(self, hp):
        config = self.config_for(hp)
        model = build_lm(config, vocab_size=self.vocab_size, seed=self.seed)
        return compile_lm(model, config, jit_compile=self.jit_compile)

    def fit(self, hp, model, *args, **kwargs):
        config = self.config_for(hp)
        # train.py's callbacks and fit arguments (epochs, shuffle, steps_per_epoch); the
        # zoo's callbacks first: the tuner's (its checkpoint, TensorBoard) read their logs.
        # AWD's variable-length batches need the dataset itself (its `VariableBPTT`).
        train_data = args[0] if args else kwargs.get("x")
        kwargs["callbacks"] = (recipe_callbacks(config, train_data=train_data)
                               + list(kwargs.get("callbacks") or []))
        for key, value in fit_kwargs(config).items():
            kwargs.setdefault(key, value)
        return model.fit(*args, **kwargs)


class WordLMHyperModel(LMHyperModel):
    """`LMHyperModel` for word models (`Embedding` → LSTMs → softmax); see `LMHyperModel`."""

    family = "word"


class CharLMHyperModel(LMHyperModel):
    """`LMHyperModel` for character models (one-hot or embedded input); see `LMHyperModel`."""

    family = "char"


class BigramLMHyperModel(LMHyperModel):
    """`LMHyperModel` for bigram character models (`BigramEmbedding`); see `LMHyperModel`."""

    family = "bigram"


HYPERMODELS = {"word": WordLMHyperModel, "char": CharLMHyperModel,
               "bigram": BigramLMHyperModel}


def hypermodel_for(config, vocab_size, **kwargs):
    """The family's HyperModel for `config` (`WordLMHyperModel`, ...); kwargs as LMHyperModel."""
    if config.family not in HYPERMODELS:
        raise ValueError(f"no hypermodel for family {config.family!r} (model {config.name}); "
                         f"tunable families: {', '.join(HYPERMODELS)}")
    return HYPERMODELS[config.family](config, vocab_size, **kwargs)
