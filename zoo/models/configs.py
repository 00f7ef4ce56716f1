"""Named model configurations: the seeds' recipes as frozen dataclasses.

Every config carries the hyperparameters of one recipe (the TensorFlow PTB tutorial's
small/medium/large/test, the seed notebook's PTB variant, the text8 notebook's character
models, the word-mirror seq2seq). `get_config(name, **overrides)` returns a copy with fields
replaced and validated, so the CLI and the tuner share one source of truth.
"""

import dataclasses
from typing import Optional

CELLS = ("fused", "gate", "keras")
FAMILIES = ("word", "char", "bigram", "seq2seq")
SCHEDULES = ("ptb", "notebook", "step", "constant")


@dataclasses.dataclass(frozen=True)
class LMConfig:
    """Hyperparameters of one language-model recipe.

    Args:
        name: str, the registry name.
        family: str, one of `"word"` (word ids → Embedding), `"char"` (character ids, one-hot
            or embedded input), `"bigram"` (character pairs → BigramEmbedding) or `"seq2seq"`.
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
        tie_weights: bool, share the embedding matrix with the softmax (needs
            embedding_size == hidden_size).
        softmax_bias_init: str, `"uniform"` (drawn in ±init_scale like the weights: the PTB
            tutorial's `softmax_b`, which takes its variable scope's uniform initializer) or
            `"zeros"` (the text8 notebook's `tf.zeros` bias). The PTB recipes use `"uniform"`.
        description: str, one line for `--list-models`.
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
    description: str = ""

    def __post_init__(self):
        positive_ints = (
            "num_layers", "num_steps", "hidden_size", "max_epoch", "max_max_epoch",
            "batch_size", "vocab_size",
        )
        for field in positive_ints:
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{field} must be a positive integer, got {value!r}")
        for field in ("embedding_size", "decay_steps", "steps_per_epoch"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ValueError(f"{field} must be a positive integer or None, got {value!r}")
        for field in ("init_scale", "learning_rate", "max_grad_norm", "lr_decay"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field} must be > 0, got {getattr(self, field)!r}")
        if not 0.0 < self.keep_prob <= 1.0:
            raise ValueError(f"keep_prob must be in (0, 1], got {self.keep_prob!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.schedule == "step" and self.decay_steps is None:
            raise ValueError("schedule='step' needs decay_steps")
        if self.softmax_bias_init not in ("zeros", "uniform"):
            raise ValueError(
                f"softmax_bias_init must be 'zeros' or 'uniform', got {self.softmax_bias_init!r}"
            )
        if self.loss_scale not in ("num_steps", "mean"):
            raise ValueError(f"loss_scale must be 'num_steps' or 'mean', got {self.loss_scale!r}")
        if self.tie_weights and self.embedding_size not in (None, self.hidden_size):
            raise ValueError(
                "tie_weights needs embedding_size == hidden_size, got "
                f"{self.embedding_size} and {self.hidden_size}"
            )

    @property
    def dropout(self):
        """The dropout rate, 1 − keep_prob."""
        return 1.0 - self.keep_prob

    def replace(self, **overrides):
        """A copy with fields replaced (None values are ignored), validated."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        changes = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)


def _ptb(name, description, **kw):
    # The tutorial's variable scope draws every variable it does not initialise itself
    # (embedding, LSTM kernels, softmax_w and softmax_b) uniform in ±init_scale; its LSTM
    # cells (BasicLSTMCell, LSTMBlockCell) start their biases at zero.
    return LMConfig(name=name, family="word", description=description,
                    softmax_bias_init="uniform", **kw)


# The TensorFlow PTB tutorial's configs (ptb_word_lm.py), field for field.
_REGISTRY = {
    c.name: c
    for c in [
        _ptb(
            "ptb-small", "PTB tutorial small: 2x200, 20 steps, 13 epochs, no dropout",
            init_scale=0.1, learning_rate=1.0, max_grad_norm=5.0, num_layers=2, num_steps=20,
            hidden_size=200, max_epoch=4, max_max_epoch=13, keep_prob=1.0, lr_decay=0.5,
            batch_size=20,
        ),
        _ptb(
            "ptb-medium", "PTB tutorial medium: 2x650, 35 steps, 39 epochs, dropout 0.5",
            init_scale=0.05, learning_rate=1.0, max_grad_norm=5.0, num_layers=2, num_steps=35,
            hidden_size=650, max_epoch=6, max_max_epoch=39, keep_prob=0.5, lr_decay=0.8,
            batch_size=20,
        ),
        _ptb(
            "ptb-large", "PTB tutorial large: 2x1500, 35 steps, 55 epochs, dropout 0.65",
            init_scale=0.04, learning_rate=1.0, max_grad_norm=10.0, num_layers=2, num_steps=35,
            hidden_size=1500, max_epoch=14, max_max_epoch=55, keep_prob=0.35,
            lr_decay=1 / 1.15, batch_size=20,
        ),
        _ptb(
            "ptb-test", "PTB tutorial test: 1x2, 2 steps, 1 epoch (a smoke test)",
            init_scale=0.1, learning_rate=1.0, max_grad_norm=1.0, num_layers=1, num_steps=2,
            hidden_size=2, max_epoch=1, max_max_epoch=1, keep_prob=1.0, lr_decay=0.5,
            batch_size=20,
        ),
        _ptb(
            "ptb-notebook",
            "the seed notebook's PTB variant: 2x200, batch 30, lr x decay at epoch 2, then linear",
            init_scale=0.1, learning_rate=1.0, max_grad_norm=5.0, num_layers=2, num_steps=20,
            hidden_size=200, max_epoch=1, max_max_epoch=13, keep_prob=1.0, lr_decay=0.5,
            batch_size=30, schedule="notebook",
        ),
        # The text8 notebook: one LSTM of 64 units over one-hot characters, 10 unrollings,
        # batch 64, SGD lr 10 decayed x0.1 every 5000 steps, clip 1.25, 7001 steps logged
        # every 100. Its loss is the mean over all tokens (no num_steps scale).
        LMConfig(
            name="text8-char", family="char",
            description="text8 notebook: 1x64 LSTM on one-hot characters, 10 unrollings",
            init_scale=0.1, learning_rate=10.0, max_grad_norm=1.25, num_layers=1,
            num_steps=10, hidden_size=64, max_epoch=1, max_max_epoch=7, keep_prob=1.0,
            lr_decay=0.1, batch_size=64, vocab_size=27, schedule="step", decay_steps=5000,
            steps_per_epoch=1000, loss_scale="mean",
        ),
        LMConfig(
            name="text8-embed", family="char",
            description="text8 notebook, embedded: 128-d character embedding into 1x64 LSTM",
            init_scale=0.1, learning_rate=10.0, max_grad_norm=1.25, num_layers=1,
            num_steps=10, hidden_size=64, max_epoch=1, max_max_epoch=7, keep_prob=1.0,
            lr_decay=0.1, batch_size=64, vocab_size=27, embedding_size=128, schedule="step",
            decay_steps=5000, steps_per_epoch=1000, loss_scale="mean",
        ),
        LMConfig(
            name="text8-bigram", family="bigram",
            description="text8 notebook, bigram: BigramEmbedding 128 + dropout into 1x64 LSTM",
            init_scale=0.1, learning_rate=10.0, max_grad_norm=1.25, num_layers=1,
            num_steps=10, hidden_size=64, max_epoch=1, max_max_epoch=7, keep_prob=0.9,
            lr_decay=0.1, batch_size=64, vocab_size=27, embedding_size=128, schedule="step",
            decay_steps=5000, steps_per_epoch=1000, loss_scale="mean",
        ),
        # The default of `python train.py`: the small recipe sized for the generated corpus on
        # a 2-core CPU (a few minutes); see README "Results".
        _ptb(
            "synthetic-small",
            "default: 2x200 word LSTM sized for the generated offline corpus",
            init_scale=0.1, learning_rate=1.0, max_grad_norm=5.0, num_layers=2, num_steps=20,
            hidden_size=200, max_epoch=4, max_max_epoch=6, keep_prob=1.0, lr_decay=0.5,
            batch_size=20,
        ),
        # The text8 notebook's unsolved exercise: a character encoder-decoder that mirrors every
        # word of a sentence (zoo.models.mirror). hidden_size = LSTM units, embedding_size = the
        # character embedding, num_layers = bidirectional encoder layers; Adam with clip-norm.
        LMConfig(
            name="mirror-seq2seq", family="seq2seq",
            description="word mirror: char encoder-decoder with attention (text8 exercise)",
            learning_rate=3e-3, max_grad_norm=1.0, num_layers=1, hidden_size=192,
            embedding_size=32, max_epoch=1, max_max_epoch=4, batch_size=64, vocab_size=30,
            num_steps=100, schedule="constant", loss_scale="mean",
        ),
    ]
}

DEFAULT_MODEL = "synthetic-small"


def list_configs():
    """Names of every registered config, in registry order."""
    return list(_REGISTRY)


def register_config(config):
    """Add (or replace) a named config; returns it."""
    if not isinstance(config, LMConfig):
        raise TypeError(f"expected an LMConfig, got {type(config).__name__}")
    _REGISTRY[config.name] = config
    return config


def get_config(name, **overrides):
    """The registered config `name`, with `overrides` applied (None values ignored).

    Raises:
        ValueError: unknown name (the message lists the known ones) or invalid overrides.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}")
    return _REGISTRY[name].replace(**overrides)


def config_from_dict(fields):
    """The config whose `to_dict()` gave `fields` (as stored in a run's zoo_meta.json)."""
    return LMConfig(**fields)
