"""Datasets of the zoo: Penn Treebank words, text8 characters, a generated corpus.

Every public name is importable from `zoo.datasets` (`__all__`); each is defined in
one module:

- `ptb`: the PTB reader (`load_ptb`, `load_mini_ptb`, `read_words`, `PTBData`, `EOS`);
  `vocabulary`: `Vocabulary`, `UNK`; `ptb_pipeline`: `ptb_iterator` / `ptb_dataset`,
  `epoch_size`.
- `text8`: `load_text8`; `alphabet`: the 27 character ids and `to_text8`, the one text
  normaliser; `text8_pipeline`: the notebook's `BatchGenerator`, `text8_dataset`,
  `char_epoch_size`.
- `synthetic`: a seeded Markov corpus with an exactly known entropy rate (the offline
  default data of `python train.py`); `markov`: its source, `MarkovSource`.
- `bptt_plan`: AWD-LSTM's variable-length BPTT plans (`bptt_lengths`, `BPTTPlan`);
  `variable_bptt`: `variable_bptt_dataset` (a PyDataset).

Importing this package needs only numpy: TensorFlow is imported by the tf.data
pipelines and Keras by the downloaders and `variable_bptt_dataset`, when they are called.
"""

from zoo.datasets.alphabet import to_text8
from zoo.datasets.bptt_plan import BPTTPlan
from zoo.datasets.bptt_plan import bptt_lengths
from zoo.datasets.markov import MarkovSource
from zoo.datasets.ptb import EOS
from zoo.datasets.ptb import PTBData
from zoo.datasets.ptb import load_mini_ptb
from zoo.datasets.ptb import load_ptb
from zoo.datasets.ptb import read_words
from zoo.datasets.ptb_pipeline import epoch_size
from zoo.datasets.ptb_pipeline import ptb_dataset
from zoo.datasets.ptb_pipeline import ptb_iterator
from zoo.datasets.synthetic import generate_corpus
from zoo.datasets.synthetic import generate_text8
from zoo.datasets.synthetic import load_synthetic
from zoo.datasets.text8 import load_text8
from zoo.datasets.text8_pipeline import BatchGenerator
from zoo.datasets.text8_pipeline import char_epoch_size
from zoo.datasets.text8_pipeline import text8_dataset
from zoo.datasets.variable_bptt import variable_bptt_dataset
from zoo.datasets.vocabulary import UNK
from zoo.datasets.vocabulary import Vocabulary

__all__ = [
    "BPTTPlan",
    "BatchGenerator",
    "EOS",
    "MarkovSource",
    "PTBData",
    "UNK",
    "Vocabulary",
    "bptt_lengths",
    "char_epoch_size",
    "epoch_size",
    "generate_corpus",
    "generate_text8",
    "load_mini_ptb",
    "load_ptb",
    "load_synthetic",
    "load_text8",
    "ptb_dataset",
    "ptb_iterator",
    "read_words",
    "text8_dataset",
    "to_text8",
    "variable_bptt_dataset",
]
