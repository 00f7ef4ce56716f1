"""Datasets of the zoo: Penn Treebank words, text8 characters, a generated corpus.

- `zoo.datasets.ptb`: PTB reader, vocabulary, `ptb_iterator` / `ptb_dataset`
  (the last two defined in `ptb_pipeline`, `Vocabulary` in `vocabulary`).
- `zoo.datasets.text8`: text8 characters, the notebook's `BatchGenerator` and
  `text8_dataset` (character ids and `to_text8` defined in `alphabet`, the
  batches in `text8_pipeline`).
- `zoo.datasets.synthetic`: a seeded Markov corpus with an exactly known entropy
  rate (the offline default data of `python train.py`); its source, `MarkovSource`,
  is defined in `markov`.
- `zoo.datasets.variable_bptt`: AWD-LSTM's variable-length BPTT, `bptt_lengths` (a
  plan per epoch, defined in `bptt_plan`) and `variable_bptt_dataset` (a PyDataset,
  in `variable_bptt_pipeline`).

Importing this package needs only numpy: TensorFlow is imported by the tf.data
pipelines and Keras by the downloaders and `variable_bptt_dataset`, when they are called.
"""

from zoo.datasets.ptb import EOS
from zoo.datasets.ptb import UNK
from zoo.datasets.ptb import PTBData
from zoo.datasets.ptb import Vocabulary
from zoo.datasets.ptb import epoch_size
from zoo.datasets.ptb import load_mini_ptb
from zoo.datasets.ptb import load_ptb
from zoo.datasets.ptb import ptb_dataset
from zoo.datasets.ptb import ptb_iterator
from zoo.datasets.ptb import read_words
from zoo.datasets.synthetic import MarkovSource
from zoo.datasets.synthetic import generate_corpus
from zoo.datasets.synthetic import generate_text8
from zoo.datasets.synthetic import load_synthetic
from zoo.datasets.text8 import BatchGenerator
from zoo.datasets.text8 import char_epoch_size
from zoo.datasets.text8 import load_text8
from zoo.datasets.text8 import text8_dataset
from zoo.datasets.text8 import to_text8
from zoo.datasets.bptt_plan import BPTTPlan
from zoo.datasets.bptt_plan import bptt_lengths
from zoo.datasets.variable_bptt import variable_bptt_dataset
