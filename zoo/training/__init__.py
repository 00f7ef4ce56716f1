"""Training pieces for stateful LSTM language models with plain `model.fit`.

Keras only (any backend); importing this package does not import TensorFlow.
`zoo.training.reporting` imports matplotlib when it draws.
"""

from zoo.training.averaging import NTASGD
from zoo.training.averaging import AveragedSGD
from zoo.training.backup import AtomicBackupAndRestore
from zoo.training.backup import AtomicModelCheckpoint
from zoo.training.backup import BackupError
from zoo.training.backup import atomic_save
from zoo.training.callbacks import ResetStatesCallback
from zoo.training.callbacks import StatefulRNNCallback
from zoo.training.callbacks import StepDecay
from zoo.training.callbacks import WordsPerSecond
from zoo.training.losses import ScaledSparseCategoricalCrossentropy
from zoo.training.metrics import Perplexity
from zoo.training.reporting import plot_learning_curve
from zoo.training.reporting import write_results
from zoo.training.schedules import notebook_lr_schedule
from zoo.training.schedules import ptb_lr_schedule
from zoo.training.schedules import step_decay
from zoo.training.states import find_stateful_rnn_layers
from zoo.training.states import get_rnn_states
from zoo.training.states import reset_rnn_states
from zoo.training.states import set_rnn_states
from zoo.training.variable_bptt import VariableBPTT

__all__ = [
    "AtomicBackupAndRestore",
    "AveragedSGD",
    "AtomicModelCheckpoint",
    "BackupError",
    "NTASGD",
    "Perplexity",
    "ResetStatesCallback",
    "ScaledSparseCategoricalCrossentropy",
    "StatefulRNNCallback",
    "StepDecay",
    "VariableBPTT",
    "WordsPerSecond",
    "atomic_save",
    "find_stateful_rnn_layers",
    "get_rnn_states",
    "notebook_lr_schedule",
    "plot_learning_curve",
    "ptb_lr_schedule",
    "reset_rnn_states",
    "set_rnn_states",
    "step_decay",
    "write_results",
]
