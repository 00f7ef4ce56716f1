"""`AWDConfig`: the AWD-LSTM recipe (Merity, Keskar, Socher 2017) as an `LMConfig`, and its presets.

AWD-LSTM regularises a stacked word LSTM with weight drop (DropConnect on the recurrent
kernels), embedding dropout (whole words), locked dropout (one mask per sequence) on the
embedding output, between the LSTM layers and on the last output, and activation
regularisation (AR) and temporal activation regularisation (TAR) of the last layer. The softmax
shares the embedding matrix (with a bias of its own), so the last LSTM layer has the
embedding's size. It trains with plain SGD (lr 30, clip 0.25, weight decay 1.2e-6) on
variable-length BPTT batches, switches to averaged SGD by the non-monotonic trigger (NT-ASGD),
and fine-tunes from the averaged weights.

`awd-ptb` is the reference's PTB command (salesforce/awd-lstm-lm README, `main.py` then
`finetune.py`); `awd-mini` is sized for mini-PTB on a 2-core CPU.
"""

import dataclasses
from typing import ClassVar

from zoo import checks
from zoo.models.configs import LMConfig
from zoo.models.configs import register_config
from zoo.models.configs import register_config_kind

LSTM_INITS = ("torch", "uniform")


@dataclasses.dataclass(frozen=True)
class AWDConfig(LMConfig):
    """An AWD-LSTM recipe: `LMConfig`'s fields (`num_steps` is the BPTT length, `hidden_size`
    the inner layers' units, `embedding_size` the embedding's and, tied, the last layer's) and:

    Args:
        dropout_input: float in [0, 1), locked dropout on the embedding output (`dropouti`).
        dropout_hidden: float in [0, 1), locked dropout between LSTM layers (`dropouth`).
        dropout_output: float in [0, 1), locked dropout on the last LSTM output (`dropout`).
        dropout_embedding: float in [0, 1), embedding dropout: whole words (`dropoute`).
        weight_dropout: float in [0, 1), DropConnect on the recurrent kernels (`wdrop`).
        ar_alpha: float >= 0, activation regularisation of the last layer's dropped output.
        tar_beta: float >= 0, temporal activation regularisation of its raw output.
        weight_decay: float >= 0, SGD's weight decay (`wdecay`).
        variable_bptt: bool, draw each batch's length around `num_steps` (the reference's
            variable BPTT, the learning rate scaled by length / `num_steps`); False: fixed.
        nonmono: int >= 1, NT-ASGD's window: averaging starts at the end of epoch t when
            t > nonmono and val_loss[t] > min(val_loss[:t - nonmono]).
        finetune_epochs: int >= 0, epochs of the fine-tuning stage after `max_max_epoch`
            (restart from the averaged weights, average from its first step, stop by the same
            rule); 0: none.
        lstm_init: str, `"torch"` (PyTorch's `nn.LSTM`, the reference's: every LSTM weight
            uniform in ±1/sqrt(units); the bias the sum of two such draws, torch's `b_ih +
            b_hh`) or `"uniform"` (±init_scale, the PTB tutorial's).
    """

    family: str = "word"
    dropout_input: float = 0.4
    dropout_hidden: float = 0.25
    dropout_output: float = 0.4
    dropout_embedding: float = 0.1
    weight_dropout: float = 0.5
    ar_alpha: float = 2.0
    tar_beta: float = 1.0
    weight_decay: float = 1.2e-6
    variable_bptt: bool = True
    nonmono: int = 5
    finetune_epochs: int = 0
    lstm_init: str = "torch"

    KIND: ClassVar[str] = "awd"
    _A_KIND: ClassVar[str] = "an AWDConfig"
    FLAG_FIELDS: ClassVar[dict] = {
        k: v for k, v in LMConfig.FLAG_FIELDS.items() if k != "steps_per_epoch"}

    def __post_init__(self):
        super().__post_init__()
        if self.family != "word":
            checks.one_of("family", self.family, ("word",))
        self._check(checks.rate, ("dropout_input", "dropout_hidden", "dropout_output",
                                  "dropout_embedding", "weight_dropout"), allow_one=False)
        checks.weight_dropout_for(self.cell, self.weight_dropout)  # before any folder
        self._check(checks.non_negative_number, ("ar_alpha", "tar_beta", "weight_decay"))
        self._check(checks.positive_int, ("nonmono",))
        self._check(checks.non_negative_int, ("finetune_epochs",))
        self._check(checks.boolean, ("variable_bptt",))
        checks.one_of("lstm_init", self.lstm_init, LSTM_INITS)
        if self.variable_bptt:  # the reference's shortest batch is 5 tokens
            object.__setattr__(self, "num_steps", checks.int_at_least(
                "num_steps", self.num_steps, 5))
        if self.steps_per_epoch is not None:
            raise ValueError("Argument `steps_per_epoch` does not apply to an AWDConfig (each "
                             "epoch is one pass over the data). Received: "
                             f"steps_per_epoch={self.steps_per_epoch}")

    @property
    def fit_epochs(self):
        """`fit`'s `epochs`: `max_max_epoch` and the fine-tuning stage's `finetune_epochs`."""
        return super().fit_epochs + self.finetune_epochs

    def to_dict(self):
        """The fields and `"kind": "awd"`, which tells `config_from_dict` the class."""
        return {**super().to_dict(), "kind": self.KIND}


register_config_kind(AWDConfig.KIND, AWDConfig)

# The reference's PTB command (README): main.py with batch_size 20, data data/penn, dropouti
# 0.4, dropouth 0.25, seed 141, epoch 500, then finetune.py with the same settings; main.py's
# defaults for the rest (3 layers, emsize 400, nhid 1150, lr 30, clip 0.25, bptt 70,
# dropout 0.4, dropoute 0.1, wdrop 0.5, alpha 2, beta 1, wdecay 1.2e-6, nonmono 5, tied).
AWD_PTB = AWDConfig(
    name="awd-ptb", init_scale=0.1, learning_rate=30.0, max_grad_norm=0.25, num_layers=3,
    num_steps=70, hidden_size=1150, embedding_size=400, max_epoch=500, max_max_epoch=500,
    lr_decay=1.0, batch_size=20, vocab_size=10000, schedule="constant", loss_scale="mean",
    tie_weights=True, finetune_epochs=500,
    description="AWD-LSTM, the reference's PTB recipe: 3 layers (1150, 1150, 400), tied, "
                "NT-ASGD, 500+500 epochs (full PTB, a GPU)")

# Sized for mini-PTB (74k training tokens) on a 2-core CPU: about 40 minutes a seed.
AWD_MINI = AWD_PTB.replace(
    name="awd-mini", hidden_size=400, embedding_size=200, max_epoch=40, max_max_epoch=40,
    finetune_epochs=15,
    description="AWD-LSTM sized for mini-PTB on a CPU: 3 layers (400, 400, 200), tied, "
                "NT-ASGD")

for _config in (AWD_PTB, AWD_MINI):
    register_config(_config)
