"""Named model configurations: the seeds' recipes as frozen dataclasses, in one registry.

An `LMConfig` per language-model recipe (the TensorFlow PTB tutorial's, the seed notebook's,
the text8 notebook's) and a `MirrorConfig` for the word-mirror seq2seq model. `get_config(name,
**overrides)` returns a validated copy, so the CLI and the tuner share one source of truth;
`config.with_flags(**flags)` applies the command line's settings and refuses those that do not
apply.
Run metadata stores `config.to_dict()`; `config_from_dict(d)` reads either kind back.
"""

import dataclasses
from typing import ClassVar, Optional

from zoo import checks
from zoo.models._config_base import _Config
from zoo.models.presets import PRESETS

FAMILIES = ("word", "char", "bigram")
SCHEDULES = ("ptb", "notebook", "step", "constant")


@dataclasses.dataclass(frozen=True)
class LMConfig(_Config):
    """Hyperparameters of one language-model recipe.

    Args:
        name: str, the registry name.
        family: str, one of `"word"` (word ids → Embedding), `"char"` (character ids, one-hot
            or embedded input) or `"bigram"` (character pairs → BigramEmbedding).
        init_scale: float, every weight is drawn from uniform(−init_scale, init_scale); the LSTM
            biases start at zero, the softmax bias as `softmax_bias_init` says.
        learning_rate: float, the initial SGD learning rate.
        max_grad_norm: float, the global-norm gradient clip (`SGD(global_clipnorm=...)`).
        num_layers: int, stacked LSTM layers.
        num_steps: int, the unrolled length of one training batch (truncated BPTT).
        hidden_size: int, LSTM units per layer.
        max_epoch: int, PTB schedule: epochs at the initial learning rate.
        max_max_epoch: int, epochs in all.
        keep_prob: float, 1 − dropout rate on the embedding output and every LSTM output.
        lr_decay: float, learning-rate decay factor of the schedule.
        batch_size: int, rows of the (stateful) batch.
        vocab_size: int, the vocabulary size the recipe was written for (the data's own
            vocabulary size is used when they differ).
        embedding_size: int or None, input embedding width; None means `hidden_size` for word
            models and one-hot input for character models.
        schedule: str, `"ptb"` (lr · decay ** max(epoch + 1 − max_epoch, 0)), `"notebook"`
            (the seed notebook's linear decay), `"step"` (× lr_decay every `decay_steps`
            training steps) or `"constant"`.
        decay_steps: int or None, with `schedule="step"`.
        steps_per_epoch: int or None, for stream data read in fixed slices (text8): the number
            of training steps one "epoch" of `fit` covers. None: one pass over the data.
        loss_scale: str, `"num_steps"` (the PTB tutorial's cost, summed over time, averaged over
            the batch) or `"mean"` (Keras's default mean over tokens).
        cell: str, `"fused"` (the zoo's fast FusedLSTM layer), `"gate"` (GateLSTMCell in
            keras.layers.RNN) or `"keras"` (keras.layers.LSTM, cuDNN on a GPU).
        tie_weights: bool, share the embedding matrix with the softmax (word models); the
            last LSTM layer then has `embedding_size` units (`layer_sizes`).
        softmax_bias_init: str, `"uniform"` (drawn in ±init_scale like the weights: the PTB
            tutorial's `softmax_b`, which takes its variable scope's uniform initializer) or
            `"zeros"` (the text8 notebook's `tf.zeros` bias). The PTB recipes use `"uniform"`.
        weight_init: str, how the LSTM and softmax weight matrices start: `"uniform"` (in
            ±init_scale, the PTB tutorial's) or `"notebook"` (the text8 notebook's
            `tf.truncated_normal(shape, -0.1, 0.1)` quirk: a normal of mean −init_scale and
            stddev init_scale, redrawn outside two stddevs, i.e. inside [−3·init_scale,
            init_scale]). The uniform draw is the corrected option for the text8 recipes.
        embedding_init_scale: float or None, embeddings start uniform in
            ±embedding_init_scale (the notebook's embedded recipes: 1.0). None: init_scale.
        batch_stride: int or None, character data: characters the stream advances from one
            batch to the next. None: num_steps (contiguous batches). The bigram notebook reads
            11 characters a batch (9 pairs with a target) and advances 10: `num_steps=9,
            batch_stride=10`.
        extra_steps: int, training steps run after the `max_max_epoch` epochs of
            `steps_per_epoch`, as one short last epoch: the notebook's 7,001 updates are 7 ×
            1,000 + 1 (its step 7,000 is a logged one).
        summary_frequency: int or None, the text8 notebook's report: every
            `summary_frequency` steps `train.py` prints the average loss, the minibatch
            perplexity and the learning rate and validates the notebook's way (exp of the mean
            loss of one-character predictions at batch 1 from a reset state, the last target
            wrapping to the first character); every 10 × `summary_frequency` it prints 5
            samples. None: Keras's per-epoch validation at the training batch shape.
        valid_stride: int, with `summary_frequency`: positions between two validation
            predictions. The bigram notebook feeds every other pair (2); 1 reads them all.
        description: str, one line in the list of models (`list_configs`).
    """

    name: str
    family: str
    init_scale: float = 0.1
    learning_rate: float = 1.0
    max_grad_norm: float = 5.0
    num_layers: int = 2
    num_steps: int = 20
    hidden_size: int = 200
    max_epoch: int = 4
    max_max_epoch: int = 13
    keep_prob: float = 1.0
    lr_decay: float = 0.5
    batch_size: int = 20
    vocab_size: int = 10000
    embedding_size: Optional[int] = None
    schedule: str = "ptb"
    decay_steps: Optional[int] = None
    steps_per_epoch: Optional[int] = None
    loss_scale: str = "num_steps"
    cell: str = "fused"
    tie_weights: bool = False
    softmax_bias_init: str = "zeros"
    weight_init: str = "uniform"
    embedding_init_scale: Optional[float] = None
    batch_stride: Optional[int] = None
    extra_steps: int = 0
    summary_frequency: Optional[int] = None
    valid_stride: int = 1
    description: str = ""

    _A_KIND: ClassVar[str] = "an LMConfig"
    FLAG_FIELDS: ClassVar[dict] = {
        "epochs": "max_max_epoch", "batch_size": "batch_size", "num_steps": "num_steps",
        "hidden_size": "hidden_size", "num_layers": "num_layers",
        "learning_rate": "learning_rate", "steps_per_epoch": "steps_per_epoch",
        "tie_weights": "tie_weights", "cell": "cell",
    }

    def __post_init__(self):
        self._check(checks.positive_int, ("num_layers", "num_steps", "hidden_size", "max_epoch",
                                          "max_max_epoch", "batch_size", "vocab_size"))
        self._check(checks.positive_int, ("embedding_size", "decay_steps", "steps_per_epoch",
                                          "batch_stride", "summary_frequency"), optional=True)
        self._check(checks.positive_int, ("valid_stride",))
        self._check(checks.non_negative_int, ("extra_steps",))
        self._check(checks.positive_number,
                    ("init_scale", "learning_rate", "max_grad_norm", "lr_decay"))
        self._check(checks.positive_number, ("embedding_init_scale",), optional=True)
        self._check(checks.number_in, ("keep_prob",), low=0, high=1, include_low=False)
        for name, choices in (("family", FAMILIES), ("cell", checks.CELLS), ("schedule", SCHEDULES),
                              ("softmax_bias_init", ("zeros", "uniform")),
                              ("weight_init", ("uniform", "notebook")),
                              ("loss_scale", ("num_steps", "mean"))):
            checks.one_of(name, getattr(self, name), choices)
        if self.schedule == "step" and self.decay_steps is None:
            checks.invalid("decay_steps", "given with schedule='step'", None)
        if self.extra_steps and not self.steps_per_epoch:
            raise ValueError("Argument `extra_steps` needs `steps_per_epoch`. "
                             f"Received: extra_steps={self.extra_steps}, steps_per_epoch=None")
        if self.batch_stride is not None and self.family == "word":
            raise ValueError("Argument `batch_stride` applies to character data (family "
                             "'char' or 'bigram'). Received: family='word'")
        if self.tie_weights and self.family != "word":
            raise ValueError("Argument `tie_weights` applies to word models only (the softmax "
                             f"shares the word embedding). Received: family={self.family!r}")

    @property
    def layer_sizes(self):
        """Units of each LSTM layer: `hidden_size`, but a tied model's last layer has the
        embedding's size, so the softmax can share the embedding matrix (AWD-LSTM's rule)."""
        last = self.embedding_size if self.tie_weights and self.embedding_size else None
        return [self.hidden_size] * (self.num_layers - 1) + [last or self.hidden_size]

    def to_dict(self):
        """The fields; those added since run folders were first written (`_LATER_FIELDS`)
        only where they differ from their default, so an older run's metadata and resume
        settings are still this config's."""
        d = super().to_dict()
        return {k: v for k, v in d.items()
                if k not in _LATER_FIELDS or v != _LATER_FIELDS[k]}

    @property
    def train_steps(self):
        """Training steps in all with `steps_per_epoch` (epochs × steps + extra), else None."""
        if not self.steps_per_epoch:
            return None
        return self.steps_per_epoch * self.max_max_epoch + self.extra_steps

    @property
    def fit_epochs(self):
        """`fit`'s `epochs`: `max_max_epoch`, plus one short last epoch with `extra_steps`."""
        return self.max_max_epoch + (1 if self.extra_steps else 0)

    @property
    def dropout(self):
        """The dropout rate, 1 − keep_prob."""
        return 1.0 - self.keep_prob

    def with_flags(self, **flags):
        """As `_Config.with_flags`; an `epochs` below `max_epoch` also lowers `max_epoch`."""
        config = super().with_flags(**flags)
        if config.max_epoch > config.max_max_epoch:
            config = config.replace(max_epoch=config.max_max_epoch)
        return config


#: LMConfig fields added after the first runs, with their defaults (see `LMConfig.to_dict`).
_LATER_FIELDS = {"weight_init": "uniform", "embedding_init_scale": None, "batch_stride": None,
                 "extra_steps": 0, "summary_frequency": None, "valid_stride": 1}


@dataclasses.dataclass(frozen=True)
class MirrorConfig(_Config):
    """Hyperparameters of one word-mirror seq2seq run (`zoo.models.mirror`): the preset is
    `mirror-seq2seq`, the defaults are `build_mirror_model`'s and `train_mirror`'s.

    Args:
        name: str, the registry name. Defaults to `"mirror"`.
        epochs: int, training epochs. Defaults to `10`.
        batch_size: int, sentences per batch. Defaults to `64`.
        cell: str, `"fused"`, `"gate"` or `"keras"` (as `LMConfig.cell`). Defaults to `"fused"`.
        units: int, LSTM units of the decoder and of each encoder direction. Defaults to `128`.
        embedding_dim: int, character embedding size. Defaults to `32`.
        encoder_layers: int, stacked bidirectional encoder layers. Defaults to `2`.
        dropout: float in [0, 1), dropout on the cells' inputs. Defaults to `0.0`.
        learning_rate: float, the Adam learning rate. Defaults to `3e-3`.
        clipnorm: float, the global gradient-norm clip. Defaults to `1.0`.
        max_words: int, the most words in a training sentence. Defaults to `10`
            (`zoo.datasets.mirror.DEFAULT_MAX_WORDS`).
        max_length: int, the longest sentence in characters the model accepts. Defaults to
            `100` (`zoo.datasets.mirror.DEFAULT_MAX_LENGTH`).
        augment: int, extra random-length splits of the training text. Defaults to `2`.
        random_words: int, random letter-string words added to the training sentences.
            Defaults to `0`.
        description: str, one line in the list of models (`list_configs`).
    """

    name: str = "mirror"
    epochs: int = 10
    batch_size: int = 64
    cell: str = "fused"
    units: int = 128
    embedding_dim: int = 32
    encoder_layers: int = 2
    dropout: float = 0.0
    learning_rate: float = 3e-3
    clipnorm: float = 1.0
    max_words: int = 10
    max_length: int = 100
    augment: int = 2
    random_words: int = 0
    description: str = ""

    #: The model family, as `LMConfig.family` (run metadata's `kind`).
    family: ClassVar[str] = "seq2seq"
    _A_KIND: ClassVar[str] = "a MirrorConfig"
    FLAG_FIELDS: ClassVar[dict] = {
        "epochs": "epochs", "batch_size": "batch_size", "hidden_size": "units",
        "num_layers": "encoder_layers", "learning_rate": "learning_rate", "cell": "cell",
    }

    def __post_init__(self):
        self._check(checks.positive_int, ("epochs", "batch_size", "units", "embedding_dim",
                                          "encoder_layers", "max_words", "max_length"))
        self._check(checks.non_negative_int, ("augment", "random_words"))
        self._check(checks.positive_number, ("learning_rate", "clipnorm"))
        self._check(checks.rate, ("dropout",), allow_one=False)
        checks.one_of("cell", self.cell, checks.CELLS)

    def to_dict(self):
        """The fields and `"kind": "seq2seq"`, which tells `config_from_dict` the class."""
        return {**super().to_dict(), "kind": self.family}


def config_from_dict(d):
    """The `LMConfig` or `MirrorConfig` of a `to_dict()` (e.g. a run's `zoo_meta.json`).

    A dict with `"kind": "seq2seq"`, or without `"family"` (every LMConfig dict has one), is a
    MirrorConfig's; an LMConfig-shaped dict with `"family": "seq2seq"` (how mirror runs were
    recorded before MirrorConfig) becomes the MirrorConfig it described; any other dict is an
    LMConfig's.

    Raises:
        ValueError: unknown fields or invalid values.
    """
    d = dict(d)
    if d.get("family") == "seq2seq":  # old mirror metadata: LMConfig fields, trained augment=1
        d = {new: d[old] for old, new in _OLD_MIRROR_FIELDS.items() if d.get(old) is not None}
        d["augment"] = 1
    kind = d.pop("kind", None)
    cls = _KINDS.get(kind, MirrorConfig if "family" not in d else LMConfig)
    unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
    return cls(**d)


#: `to_dict()["kind"]` -> its config class; `register_config_kind` adds one (AWDConfig).
_KINDS = {"seq2seq": MirrorConfig}


def register_config_kind(kind, cls):
    """Lets `config_from_dict` read the dicts of `cls`, whose `to_dict()` has `"kind": kind`."""
    _KINDS[kind] = cls
    return cls


_OLD_MIRROR_FIELDS = {"name": "name", "description": "description", "max_max_epoch": "epochs",
                      "batch_size": "batch_size", "cell": "cell", "hidden_size": "units",
                      "embedding_size": "embedding_dim", "num_layers": "encoder_layers",
                      "learning_rate": "learning_rate", "max_grad_norm": "clipnorm"}


_CLASSES = {"LMConfig": LMConfig, "MirrorConfig": MirrorConfig}
_REGISTRY = {fields["name"]: _CLASSES[kind](**fields) for kind, fields in PRESETS}

DEFAULT_MODEL = "synthetic-small"


def list_configs():
    """Names of every registered config (LMConfig and MirrorConfig), in registry order."""
    return list(_REGISTRY)


def register_config(config):
    """Add (or replace) a named config, an `LMConfig` or a `MirrorConfig`; returns it."""
    checks.instance("config", config, (LMConfig, MirrorConfig),
                    "an LMConfig or a MirrorConfig", error=TypeError)
    _REGISTRY[config.name] = config
    return config


def get_config(name, **overrides):
    """The registered config `name` (an LMConfig or a MirrorConfig), with `overrides` applied.

    `overrides` are the config's own fields (None values ignored); for the command line's
    settings use `get_config(name).with_flags(**flags)`.

    Raises:
        ValueError: unknown name (the message lists the known ones) or invalid overrides.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}")
    return _REGISTRY[name].replace(**overrides)
