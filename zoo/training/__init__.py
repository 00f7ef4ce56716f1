"""Training pieces for stateful LSTM language models with plain `model.fit`.

Keras only (any backend); importing this package does not import TensorFlow.
`zoo.training.reporting` imports matplotlib when it draws.
"""

from zoo.training.averaging import NTASGD
from zoo.training.averaging import AveragedSGD
from zoo.training.atomic import AtomicModelCheckpoint
from zoo.training.atomic import atomic_save
from zoo.training.backup import AtomicBackupAndRestore
from zoo.training.backup import BackupError
from zoo.training.cache_pointer import cache_pointer_log_probs
from zoo.training.cache_pointer import cache_pointer_perplexity
from zoo.training.cache_pointer import tune_cache_pointer
from zoo.training.callbacks import ResetStatesCallback
from zoo.training.callbacks import StatefulRNNCallback
from zoo.training.callbacks import StepDecay
from zoo.training.callbacks import TimeLimit
from zoo.training.callbacks import WordsPerSecond
from zoo.training.dynamic_eval import DynamicEvaluation
from zoo.training.dynamic_eval import dynamic_eval_perplexity
from zoo.training.dynamic_eval import gradient_statistics
from zoo.training.dynamic_eval import tune_dynamic_eval
from zoo.training.losses import ScaledSparseCategoricalCrossentropy
from zoo.training.metrics import Perplexity
from zoo.training.notebook import NotebookValidation
from zoo.training.notebook import StepSummary
from zoo.training.notebook import StopAtStep
from zoo.training.recipe import fit_kwargs
from zoo.training.recipe import recipe_callbacks
from zoo.training.reporting import plot_learning_curve
from zoo.training.reporting import machine_info
from zoo.training.reporting import write_results
from zoo.training.sampling import SampleText
from zoo.training.sampling import notebook_perplexity
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
    "AtomicModelCheckpoint",
    "AveragedSGD",
    "BackupError",
    "DynamicEvaluation",
    "NTASGD",
    "NotebookValidation",
    "Perplexity",
    "ResetStatesCallback",
    "SampleText",
    "ScaledSparseCategoricalCrossentropy",
    "StatefulRNNCallback",
    "StepDecay",
    "StepSummary",
    "StopAtStep",
    "TimeLimit",
    "VariableBPTT",
    "WordsPerSecond",
    "atomic_save",
    "cache_pointer_log_probs",
    "cache_pointer_perplexity",
    "dynamic_eval_perplexity",
    "find_stateful_rnn_layers",
    "fit_kwargs",
    "get_rnn_states",
    "gradient_statistics",
    "machine_info",
    "notebook_lr_schedule",
    "notebook_perplexity",
    "plot_learning_curve",
    "ptb_lr_schedule",
    "recipe_callbacks",
    "reset_rnn_states",
    "set_rnn_states",
    "step_decay",
    "tune_cache_pointer",
    "tune_dynamic_eval",
    "write_results",
]
