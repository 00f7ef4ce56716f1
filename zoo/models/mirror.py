"""`mirror-seq2seq`: a character encoder–decoder that mirrors every word of a sentence.

The text8 notebook ends with an exercise its author left open: a sequence-to-
sequence LSTM that turns `"the quick brown fox"` into `"eht kciuq nworb xof"`.
This model solves it with the zoo's own LSTM cells:

- encoder: character embedding → bidirectional LSTM(s) (each direction sees one
  side of every word, so every position knows its whole word);
- decoder: an LSTM fed, at step t, the previous output character (teacher
  forcing in training) and the encoder state of input position t (the output is
  as long as the input, so step t is aligned with position t); then dot-product
  attention over all encoder states and a softmax over the 30 characters;
- inference: greedy decoding until the end token, or beam search of width k.

Here: the model, `build_mirror_model` and `load_mirror`; `decode_ids` decodes ids
(greedy or beam search, `zoo.models.mirror_decoding`). Sentences are encoded by
`zoo.datasets.mirror` and decoded to text by `zoo.experiments.mirror_eval`
(`mirror_sentence`, `mirror_sentences`, `evaluate_mirror`); one training run is
`zoo.experiments.train_mirror`.
"""

import os

import keras
from keras import ops

import zoo.layers  # noqa: F401  (registers the zoo's layers for load_mirror)
from zoo import checks
from zoo.layers.factory import lstm_layer
from zoo.models import mirror_decoding as decoding
from zoo.models.configs import MirrorConfig

#: Characters the model reads and writes: padding, start, end and " a-z", as
#: `zoo.datasets.mirror` encodes them (`zoo.datasets.mirror.VOCAB_SIZE`; a test checks).
VOCAB_SIZE = 30


@keras.saving.register_keras_serializable(package="zoo")
class MirrorSeq2Seq(keras.Model):
    """Character encoder–decoder that mirrors the words of text8-style sentences.

    A functional model (like keras-hub's backbones): calling it on
    `(encoder_ids, decoder_input_ids)` returns next-character logits for
    teacher-forced training; `decode_ids(encoder_ids, beam_width)` decodes.

    Args:
        units: int, LSTM units of the decoder and of each encoder direction.
            Defaults to `128`.
        embedding_dim: int, character embedding size. Defaults to `32`.
        encoder_layers: int, stacked bidirectional encoder layers. Defaults to `2`.
        cell: str, `"fused"` (the zoo's `FusedLSTM`), `"gate"` (the zoo's
            `GateLSTMCell`) or `"keras"` (`keras.layers.LSTM`). Defaults to `"fused"`.
        dropout: float, dropout on the cells' inputs. Defaults to `0.0`.
        max_length: int, the longest sentence in characters the model accepts
            (the trained maximum). Defaults to `100`.
        vocab_size: int, size of the character vocabulary. Defaults to 30.

    Example:
    >>> model = MirrorSeq2Seq(units=16, embedding_dim=8, encoder_layers=1, cell="keras")
    >>> from zoo.datasets.mirror import decode, encode_pairs
    >>> ids = model.decode_ids(encode_pairs(["the quick brown fox"])[0][:, :20])
    >>> decode(ids[0])  # untrained: any characters
    """

    def __init__(
        self,
        units=128,
        embedding_dim=32,
        encoder_layers=2,
        cell="fused",
        dropout=0.0,
        max_length=100,
        vocab_size=VOCAB_SIZE,
        **kwargs,
    ):
        for name, value in (("units", units), ("embedding_dim", embedding_dim),
                            ("encoder_layers", encoder_layers), ("max_length", max_length),
                            ("vocab_size", vocab_size)):
            checks.positive_int(name, value)
        checks.rate("dropout", dropout, allow_one=False)

        # Layers (kept as attributes: decoding calls them step by step).
        encoder_embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, mask_zero=True, name="encoder_embedding")
        encoders = [
            keras.layers.Bidirectional(
                lstm_layer(cell, units, return_sequences=True, dropout=dropout),
                name=f"encoder_{i}")
            for i in range(encoder_layers)
        ]
        decoder_embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, mask_zero=True, name="decoder_embedding")
        decoder_concat = keras.layers.Concatenate(name="decoder_inputs")
        decoder = lstm_layer(cell, units, return_sequences=True, dropout=dropout, name="decoder")
        attention_keys = keras.layers.Dense(units, use_bias=False, name="attention_keys")
        attention = keras.layers.Attention(use_scale=True, name="attention")
        output_concat = keras.layers.Concatenate(name="attention_inputs")
        projection = keras.layers.Dense(units, activation="tanh", name="attention_projection")
        logits_layer = keras.layers.Dense(vocab_size, name="logits")

        # Teacher-forced graph.
        encoder_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_ids")
        decoder_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_ids")
        x = encoder_embedding(encoder_ids)
        for layer in encoders:
            x = layer(x)
        encoder_states = x
        keys = attention_keys(encoder_states)
        y = decoder_concat([decoder_embedding(decoder_ids), encoder_states])
        y = decoder(y)
        context = attention([y, encoder_states, keys])
        y = projection(output_concat([y, context]))
        logits = logits_layer(y)
        super().__init__(inputs=(encoder_ids, decoder_ids), outputs=logits, **kwargs)

        self.units = units
        self.embedding_dim = embedding_dim
        self.encoder_layers = encoder_layers
        self.cell = cell
        self.dropout = dropout
        self.max_length = max_length
        self.vocab_size = vocab_size
        self._encoder_embedding = encoder_embedding
        self._encoders = encoders
        self._decoder_embedding = decoder_embedding
        self._decoder = decoder
        self._attention_keys = attention_keys
        self._attention = attention
        self._projection = projection
        self._logits_layer = logits_layer

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "units": self.units,
            "embedding_dim": self.embedding_dim,
            "encoder_layers": self.encoder_layers,
            "cell": self.cell,
            "dropout": self.dropout,
            "max_length": self.max_length,
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ----------------------------------------------------------------- inference
    def encode(self, encoder_ids):
        """Encoder states, attention keys and padding mask of encoder ids `(batch, steps)`.

        A decoding step (`decode_step`) reads them; `zoo.models.mirror_decoding` uses both.
        """
        x = self._encoder_embedding(encoder_ids)
        mask = ops.not_equal(encoder_ids, decoding.PAD)
        for layer in self._encoders:
            x = layer(x, mask=mask)
        return x, self._attention_keys(x), mask

    def decode_step(self, prev_ids, states, aligned, encoder_states, keys, encoder_mask):
        """One decoder step: log-probabilities of the next character and new states."""
        x = ops.concatenate([self._decoder_embedding(prev_ids), aligned], axis=-1)
        h, states = self._decoder.cell(x, states, training=False)
        query = ops.expand_dims(h, 1)
        context = self._attention([query, encoder_states, keys],
                                  mask=[None, encoder_mask])
        y = self._projection(ops.concatenate([query, context], axis=-1))
        logits = self._logits_layer(y)[:, 0]
        return ops.log_softmax(logits, axis=-1), list(states)

    def initial_decoder_states(self, batch):
        """The decoder's zero states `[h, c]` for `batch` sentences."""
        return [ops.zeros((batch, self.units)), ops.zeros((batch, self.units))]

    def decode_ids(self, encoder_ids, beam_width=1):
        """Output ids of encoder ids `(batch, steps)`: greedy (`beam_width=1`) or beam search.

        Args:
            encoder_ids: int array `(batch, steps)`, sentences encoded by
                `zoo.datasets.mirror.encode_pairs` (each ends with the end id; 0 pads).
            beam_width: int, the beam width k; `1` is greedy. Defaults to `1`.

        Returns:
            int32 numpy array `(batch, steps)` of output ids, up to and including the end id.
        """
        checks.positive_int("beam_width", beam_width)
        if beam_width == 1:
            return self._greedy(encoder_ids)
        return self._beam(encoder_ids, beam_width)

    def _greedy(self, enc):
        return decoding.greedy_decode(self, enc)

    def _beam(self, enc, k):
        return decoding.beam_decode(self, enc, k)


def build_mirror_model(config=None, compile=True, **fields):
    """Builds (and by default compiles) a `MirrorSeq2Seq` model.

    Args:
        config: MirrorConfig or None, the model's settings: `units`, `embedding_dim`,
            `encoder_layers`, `cell`, `dropout`, `max_length`, and for `compile` the Adam
            `learning_rate` and global-norm `clipnorm`. Defaults to `MirrorConfig()`
            (units 128, embedding 32, two encoder layers, fused cells, lr 3e-3, clip 1.0).
        compile: bool, compile with Adam, masked cross-entropy and accuracy.
        **fields: MirrorConfig fields that replace `config`'s (e.g. `units=16`).

    Returns:
        A `MirrorSeq2Seq` (a `keras.Model`).

    Example:
    >>> model = build_mirror_model(units=16, encoder_layers=1, cell="keras")
    """
    config = (MirrorConfig() if config is None else config).replace(**fields)
    model = MirrorSeq2Seq(
        units=config.units, embedding_dim=config.embedding_dim,
        encoder_layers=config.encoder_layers, cell=config.cell, dropout=config.dropout,
        max_length=config.max_length, name="mirror_seq2seq")
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate,
                                            global_clipnorm=config.clipnorm),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="char_accuracy")],
        )
    return model


def load_mirror(path):
    """Loads a `.keras` file saved by `train_mirror` (or `model.save`)."""
    return keras.saving.load_model(os.fspath(path))
