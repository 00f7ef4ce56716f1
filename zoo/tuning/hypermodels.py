"""keras-tuner HyperModels for the zoo's language models.

`LMHyperModel` tunes word, char and bigram language models: `build(hp)` returns the compiled
model of a config whose fields are replaced by hyperparameter values, and `fit(hp, model,
...)` trains it with the zoo's stateful callbacks, so every trial trains exactly as `train.py`
does. The search objective is `OBJECTIVE`, the validation perplexity (minimised).

A search space is a dict from `LMConfig` field names to one of:

- a dict `{"min": a, "max": b}` with optional `"sampling"` (keras-tuner's: `"linear"`, `"log"`,
  `"reverse_log"`) and `"step"`: a range, `hp.Int` for integer fields, else `hp.Float`;
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


def _is_number(value):
    """A finite int or float (JSON's NaN and Infinity parse, but no field means them)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def declare_entry(hp, name, spec):
    """Declares the space entry `name: spec` (normalized) in `hp`; returns its current value.

    A range of an integer field is `hp.Int`, of another field `hp.Float` (a range whose ends
    are equal is `hp.Fixed`), a list `hp.Choice`, a single value `hp.Fixed`.
    """
    if isinstance(spec, dict):
        if spec["min"] == spec["max"]:
            return hp.Fixed(name, spec["min"])
        cls = hp.Int if TUNABLE_FIELDS[name] is int else hp.Float
        return cls(name, spec["min"], spec["max"], step=spec.get("step"),
                   sampling=spec["sampling"])
    if isinstance(spec, list):
        return hp.Choice(name, spec)
    return hp.Fixed(name, spec)


def _bad(name, what, value):
    """Raises the one-line error for the entry `name` of the search space."""
    checks.invalid(f"space['{name}']", what, value)


def _check_space(space):
    if not isinstance(space, dict):
        checks.invalid("space", "a dict of config field -> values", space,
                       shown=type(space).__name__)
    if not space:
        checks.invalid("space", 'a search space with at least one hyperparameter, e.g. '
                       '{"hidden_size": {"min": 64, "max": 512, "sampling": "log"}}', space)
    for name in space:
        if name not in TUNABLE_FIELDS:
            fields = ", ".join(TUNABLE_FIELDS)
            checks.invalid("space", f"a search space of tunable fields ({fields}; batch_size "
                           "and num_steps stay fixed)", space,
                           shown=f"a space with the unknown hyperparameter {name!r}")


def _range(name, spec):
    """A range entry in canonical form, and the values the config must accept (its ends)."""
    kind = TUNABLE_FIELDS[name]
    unknown = set(spec) - {"min", "max", "sampling", "step"}
    if unknown or "min" not in spec or "max" not in spec:
        _bad(name, "a range with 'min' and 'max' (optional 'sampling', 'step')", spec)
    if kind is str:
        _bad(name, "a list of values, not a range (the field is a string)", spec)
    low, high, step = spec["min"], spec["max"], spec.get("step")
    if not (_is_number(low) and _is_number(high)):
        _bad(name, "a range whose bounds are finite numbers", spec)
    if step is not None and not (_is_number(step) and step > 0):
        _bad(name, "a range whose 'step' is a finite number > 0", spec)
    if kind is int:
        if not all(float(v).is_integer() for v in (low, high)):
            _bad(name, "a range of integers (the field takes integers)", spec)
        norm = {"min": int(low), "max": int(high)}
        step = None if step is None else int(step)
    else:
        norm = {"min": float(low), "max": float(high)}
    norm["sampling"] = spec.get("sampling", "linear")
    if step is not None:
        norm["step"] = step
    return norm, [norm["min"], norm["max"]]


def _check_value(name, value, config):
    """`value` as the field's type, once the config accepts it."""
    kind = TUNABLE_FIELDS[name]
    if kind is int and _is_number(value) and float(value).is_integer():
        value = int(value)
    if kind is int and not isinstance(value, int):
        _bad(name, "an integer", value)
    if kind is float and not _is_number(value):
        _bad(name, "a finite number", value)
    if kind is str and not isinstance(value, str):
        _bad(name, "a string", value)
    try:
        config.replace(**{name: value})
    except ValueError as e:
        raise ValueError(f"{e} (in `space`)") from None
    return float(value) if kind is float else value


def _declare_checked(hp, name, norm):  # keras-tuner's messages, naming the field
    try:
        declare_entry(hp, name, norm)
    except (ValueError, TypeError) as e:
        _bad(name, f"a valid hyperparameter ({str(e).splitlines()[0]})", norm)


def normalize_space(space, config):
    """Checks a search space against `config` and returns it in canonical form.

    The ranges are declared in a `keras_tuner.HyperParameters`, which checks them (an
    empty range, a sampling keras-tuner does not know, log sampling from 0).

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
    _check_space(space)
    out = {}
    hp = kt.HyperParameters()
    for name, spec in space.items():
        if isinstance(spec, dict):  # keras-tuner checks the range, then the config its ends
            norm, candidates = _range(name, spec)
            _declare_checked(hp, name, norm)
            for value in candidates:
                _check_value(name, value, config)
        else:
            if isinstance(spec, (list, tuple)) and len(spec) == 0:
                _bad(name, "a non-empty list of values to try", spec)
            choices = isinstance(spec, (list, tuple))
            values = [_check_value(name, value, config)
                      for value in (dict.fromkeys(spec) if choices else [spec])]
            norm = values if choices else spec  # choices unique, in order
            _declare_checked(hp, name, norm)
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
    `epochs=config.max_max_epoch` unless given. A Hyperband trial that continues another
    (`initial_epoch` > 0) reads a stream dataset on from where that one stopped
    (`continue_stream`).

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
    hypermodel = LMHyperModel(config, vocab_size=10000, space={
        "hidden_size": {"min": 64, "max": 512, "sampling": "log"},
        "keep_prob": [0.5, 0.8, 1.0],
    })
    tuner = keras_tuner.RandomSearch(hypermodel, objective=OBJECTIVE, max_trials=10,
                                     directory="runs/tune", project_name="ptb-small")
    tuner.search(train_ds, validation_data=valid_ds)
    best_config = hypermodel.config_for(tuner.get_best_hyperparameters()[0])
    ```
    """

    def __init__(self, config, vocab_size, space=None, seed=None, jit_compile="auto",
                 name=None, tunable=True):
        super().__init__(name=name, tunable=tunable)
        if not isinstance(config, LMConfig) or config.family == "seq2seq":
            checks.invalid("config", "the LMConfig of a word, char or bigram language model",
                           config, shown=getattr(config, "name", type(config).__name__))
        self.config = config
        self.vocab_size = checks.positive_int("vocab_size", vocab_size)
        self.space = normalize_space(default_space(config) if space is None else space, config)
        self.seed = seed
        self.jit_compile = jit_compile

    def declare_hyperparameters(self, hp):
        """Declares the space's hyperparameters in `hp`; returns their current values."""
        return {name: declare_entry(hp, name, spec) for name, spec in self.space.items()}

    def config_for(self, hp):
        """The `LMConfig` of the trial whose hyperparameters are `hp`.

        Args:
            hp: keras_tuner.HyperParameters, e.g. `tuner.get_best_hyperparameters()[0]`.
        """
        values = self.declare_hyperparameters(hp)
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
        args, kwargs = continue_stream(config, args, kwargs)
        train_data = args[0] if args else kwargs.get("x")
        kwargs["callbacks"] = (recipe_callbacks(config, train_data=train_data)
                               + list(kwargs.get("callbacks") or []))
        for key, value in fit_kwargs(config).items():
            kwargs.setdefault(key, value)
        return model.fit(*args, **kwargs)


def continue_stream(config, args, kwargs):
    """`fit`'s arguments with a stream dataset moved on to `initial_epoch`: a Hyperband trial
    continuing a bracket (`initial_epoch` > 0, the weights of the epochs before) reads, with
    `config.steps_per_epoch`, the batches after theirs, as a resumed run does
    (`zoo.datasets.corpus.fit_datasets`), not the stream's first ones again."""
    skip = kwargs.get("initial_epoch", 0) * (config.steps_per_epoch or 0)
    data = args[0] if args else kwargs.get("x")
    if not skip or not hasattr(data, "skip"):  # a tf.data stream; arrays are not one
        return args, kwargs
    if args:
        return (data.skip(skip), *args[1:]), kwargs
    return args, {**kwargs, "x": data.skip(skip)}


def hypermodel_for(config, vocab_size, **kwargs):
    """The `LMHyperModel` of `config`; kwargs as `LMHyperModel`'s."""
    return LMHyperModel(config, vocab_size, **kwargs)
