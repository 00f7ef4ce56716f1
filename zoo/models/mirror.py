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

Functions used by the CLI: `build_mirror_model`, `train_mirror`, `load_mirror`,
`mirror_sentence`, `mirror_sentences`, `evaluate_mirror`.
"""

import csv
import os
import time

import keras
import numpy as np
from keras import ops

import zoo.layers  # noqa: F401  (registers the zoo's layers for load_mirror)
from zoo.datasets import mirror as data
from zoo.layers.factory import CELLS as CELL_KINDS
from zoo.layers.factory import lstm_layer


def _make_rnn(kind, units, **kwargs):
    """A sequence-returning LSTM of the kind `kind`, by `zoo.layers.factory.lstm_layer`."""
    if kind not in CELL_KINDS:
        raise ValueError(f"`cell` must be one of {CELL_KINDS}, got {kind!r}.")
    return lstm_layer(kind, units, return_sequences=True, **kwargs)


class TimeLimit(keras.callbacks.Callback):
    """Stops training cleanly (after the current batch) once `seconds` have passed.

    The epoch still ends normally, so validation, the best checkpoint and the
    CSV log are written. Args: seconds: float, the wall-time budget of `fit`.
    """

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self._start > self.seconds:
            self.model.stop_training = True


@keras.saving.register_keras_serializable(package="zoo")
class MirrorSeq2Seq(keras.Model):
    """Character encoder–decoder that mirrors the words of text8-style sentences.

    A functional model (like keras-hub's backbones): calling it on
    `(encoder_ids, decoder_input_ids)` returns next-character logits for
    teacher-forced training; `mirror(sentences, beam_width)` decodes.

    Args:
        units: int, LSTM units of the decoder and of each encoder direction.
            Defaults to `128`.
        embedding_dim: int, character embedding size. Defaults to `32`.
        encoder_layers: int, stacked bidirectional encoder layers. Defaults to `2`.
        cell: str, `"fused"` (the zoo's `FusedLSTMCell`), `"gate"` (the zoo's
            `GateLSTMCell`) or `"keras"` (`keras.layers.LSTM`). Defaults to `"fused"`.
        dropout: float, dropout on the cells' inputs. Defaults to `0.0`.
        max_length: int, the longest sentence in characters the model accepts
            (the trained maximum). Defaults to `100`.
        vocab_size: int, size of the character vocabulary. Defaults to 30.

    Example:
    >>> model = MirrorSeq2Seq(units=16, embedding_dim=8, encoder_layers=1, cell="keras")
    >>> len(model.mirror(["the quick brown fox"]))
    1
    """

    def __init__(
        self,
        units=128,
        embedding_dim=32,
        encoder_layers=2,
        cell="fused",
        dropout=0.0,
        max_length=data.DEFAULT_MAX_LENGTH,
        vocab_size=data.VOCAB_SIZE,
        **kwargs,
    ):
        for name, value in (("units", units), ("embedding_dim", embedding_dim),
                            ("encoder_layers", encoder_layers), ("max_length", max_length)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
        if cell not in CELL_KINDS:
            raise ValueError(f"`cell` must be one of {CELL_KINDS}, got {cell!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")

        # Layers (kept as attributes: decoding calls them step by step).
        encoder_embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, mask_zero=True, name="encoder_embedding")
        encoders = [
            keras.layers.Bidirectional(
                _make_rnn(cell, units, dropout=dropout), name=f"encoder_{i}")
            for i in range(encoder_layers)
        ]
        decoder_embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, mask_zero=True, name="decoder_embedding")
        decoder_concat = keras.layers.Concatenate(name="decoder_inputs")
        decoder = _make_rnn(cell, units, dropout=dropout, name="decoder")
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
    def _encode(self, encoder_ids):
        x = self._encoder_embedding(encoder_ids)
        mask = ops.not_equal(encoder_ids, data.PAD)
        for layer in self._encoders:
            x = layer(x, mask=mask)
        return x, self._attention_keys(x), mask

    def _step(self, prev_ids, states, aligned, encoder_states, keys, encoder_mask):
        """One decoder step: log-probabilities of the next character and new states."""
        x = ops.concatenate([self._decoder_embedding(prev_ids), aligned], axis=-1)
        h, states = self._decoder.cell(x, states, training=False)
        query = ops.expand_dims(h, 1)
        context = self._attention([query, encoder_states, keys],
                                  mask=[None, encoder_mask])
        y = self._projection(ops.concatenate([query, context], axis=-1))
        logits = self._logits_layer(y)[:, 0]
        return ops.log_softmax(logits, axis=-1), list(states)

    def _initial_states(self, batch):
        return [ops.zeros((batch, self.units)), ops.zeros((batch, self.units))]

    def mirror(self, sentences, beam_width=1, batch_size=256):
        """Mirrors sentences by greedy decoding (`beam_width=1`) or beam search.

        Args:
            sentences: list of str, text8-style sentences (see
                `zoo.datasets.mirror.check_sentence`).
            beam_width: int, the beam width k; `1` is greedy. Defaults to `1`.
            batch_size: int, sentences decoded together. Defaults to `256`.

        Returns:
            list of str, the decoded sentences.

        Raises:
            ValueError: on characters outside a–z/space or a sentence longer than
                `max_length`.
        """
        if not isinstance(beam_width, int) or beam_width < 1:
            raise ValueError(f"`beam_width` must be a positive int, got {beam_width!r}.")
        if isinstance(sentences, str):
            raise ValueError("`sentences` must be a list of str; use mirror_sentence() for one.")
        sentences = [data.check_sentence(s, self.max_length) for s in sentences]
        out = []
        for i in range(0, len(sentences), batch_size):
            chunk = sentences[i : i + batch_size]
            enc, _, _, lengths = data.encode_pairs(chunk, self.max_length)
            enc = enc[:, : int(lengths.max())]
            if beam_width == 1:
                ids = self._greedy(enc)
            else:
                ids = self._beam(enc, beam_width)
            out.extend(data.decode(row) for row in ids)
        return out

    def _greedy(self, enc):
        batch, steps = enc.shape
        encoder_states, keys, encoder_mask = self._encode(enc)
        states = self._initial_states(batch)
        prev = np.full((batch,), data.START, np.int32)
        result = np.zeros((batch, steps), np.int32)
        done = np.zeros((batch,), bool)
        for t in range(steps):
            logp, states = self._step(prev, states, encoder_states[:, t],
                                      encoder_states, keys, encoder_mask)
            prev = np.argmax(ops.convert_to_numpy(logp), axis=-1).astype(np.int32)
            prev[done] = data.PAD
            result[:, t] = prev
            done |= prev == data.END
            if done.all():
                break
        return result

    def _beam(self, enc, k):
        batch, steps = enc.shape
        encoder_states, keys, encoder_mask = self._encode(enc)
        # Every sentence gets k beams: rows b*k .. b*k+k-1.
        rep = np.repeat(np.arange(batch), k)
        encoder_states = ops.take(encoder_states, rep, axis=0)
        keys = ops.take(keys, rep, axis=0)
        encoder_mask = ops.take(encoder_mask, rep, axis=0)
        states = self._initial_states(batch * k)
        prev = np.full((batch * k,), data.START, np.int32)
        scores = np.tile(np.array([0.0] + [-np.inf] * (k - 1)), batch)  # one live beam at t=0
        history = np.zeros((batch * k, 0), np.int32)
        done = np.zeros((batch * k,), bool)
        vocab = self.vocab_size
        for t in range(steps):
            logp, states = self._step(prev, states, encoder_states[:, t],
                                      encoder_states, keys, encoder_mask)
            logp = ops.convert_to_numpy(logp).astype(np.float64)
            # A finished beam only extends with padding, at no cost.
            logp[done] = -np.inf
            logp[done, data.PAD] = 0.0
            total = (scores[:, None] + logp).reshape(batch, k * vocab)
            best = np.argsort(-total, axis=1, kind="stable")[:, :k]
            parent = (best // vocab + np.arange(batch)[:, None] * k).reshape(-1)
            token = (best % vocab).reshape(-1).astype(np.int32)
            scores = np.take_along_axis(total, best, axis=1).reshape(-1)
            history = np.concatenate([history[parent], token[:, None]], axis=1)
            done = done[parent] | (token == data.END) | (token == data.PAD)
            states = [ops.take(s, parent, axis=0) for s in states]
            prev = token
            if done.all():
                break
        top = np.argmax(scores.reshape(batch, k), axis=1) + np.arange(batch) * k
        return history[top]


def build_mirror_model(
    units=128,
    embedding_dim=32,
    encoder_layers=2,
    cell="fused",
    dropout=0.0,
    max_length=data.DEFAULT_MAX_LENGTH,
    learning_rate=3e-3,
    clipnorm=1.0,
    compile=True,
):
    """Builds (and by default compiles) a `MirrorSeq2Seq` model.

    Args:
        units: int, LSTM units. Defaults to `128`.
        embedding_dim: int, character embedding size. Defaults to `32`.
        encoder_layers: int, bidirectional encoder layers. Defaults to `2`.
        cell: str, `"fused"`, `"gate"` or `"keras"`. Defaults to `"fused"`.
        dropout: float, cell input dropout. Defaults to `0.0`.
        max_length: int, the longest sentence (characters) accepted. Defaults to `100`.
        learning_rate: float, Adam learning rate. Defaults to `3e-3`.
        clipnorm: float, global gradient-norm clip. Defaults to `1.0`.
        compile: bool, compile with Adam, masked cross-entropy and accuracy.

    Returns:
        A `MirrorSeq2Seq` (a `keras.Model`).

    Example:
    >>> model = build_mirror_model(units=16, encoder_layers=1, cell="keras")
    """
    model = MirrorSeq2Seq(
        units=units, embedding_dim=embedding_dim, encoder_layers=encoder_layers,
        cell=cell, dropout=dropout, max_length=max_length, name="mirror_seq2seq")
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clipnorm),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="char_accuracy")],
        )
    return model


def load_mirror(path):
    """Loads a `.keras` file saved by `train_mirror` (or `model.save`)."""
    return keras.saving.load_model(os.fspath(path))


def mirror_sentence(model, sentence, beam_width=1):
    """Mirrors one sentence with a trained model.

    Args:
        model: a `MirrorSeq2Seq`.
        sentence: str, lowercase a–z and spaces, at most `model.max_length` characters.
        beam_width: int, 1 for greedy decoding, k > 1 for beam search.

    Returns:
        str, e.g. `"eht kciuq nworb xof"` for `"the quick brown fox"`.

    Raises:
        ValueError: on characters outside a–z/space, or on a too-long sentence.
    """
    return model.mirror([sentence], beam_width=beam_width)[0]


def mirror_sentences(model, sentences, beam_width=1, batch_size=256):
    """Mirrors a list of sentences (batched); see `mirror_sentence`."""
    return model.mirror(sentences, beam_width=beam_width, batch_size=batch_size)


def _score(sentences, predictions):
    words = correct_words = correct = 0
    for sentence, pred in zip(sentences, predictions):
        target = data.mirror_words(sentence).split(" ")
        got = pred.split(" ")
        words += len(target)
        correct_words += sum(a == b for a, b in zip(target, got))
        correct += int(got == target)
    return {
        "word_accuracy": correct_words / max(words, 1),
        "sentence_accuracy": correct / max(len(sentences), 1),
        "sentences": len(sentences),
        "words": words,
    }


def evaluate_mirror(model, sentences, beam_width=1, batch_size=512):
    """Word and sentence accuracy of decoded mirrors against `mirror_words`.

    A word counts as right when the decoded word at the same position equals
    the mirrored word; a sentence when all of its words are right (and there
    are no extra words).

    Args:
        model: a `MirrorSeq2Seq`.
        sentences: list of text8-style str.
        beam_width: int, decoding beam width. Defaults to `1` (greedy).
        batch_size: int, sentences decoded together.

    Returns:
        dict with `word_accuracy`, `sentence_accuracy`, `sentences`, `words`,
        `seconds`, and the same two accuracies for the copy-the-input baseline
        (`copy_word_accuracy`, `copy_sentence_accuracy`).
    """
    sentences = [data.check_sentence(s, model.max_length) for s in sentences]
    start = time.perf_counter()
    predictions = mirror_sentences(model, sentences, beam_width, batch_size)
    result = _score(sentences, predictions)
    result["seconds"] = time.perf_counter() - start
    copy = _score(sentences, sentences)
    result["copy_word_accuracy"] = copy["word_accuracy"]
    result["copy_sentence_accuracy"] = copy["sentence_accuracy"]
    return result


def _sentences_from(source, max_words, random_lengths=False, seed=None):
    if source is None:
        return None
    if isinstance(source, (list, tuple)):
        return [" ".join(data.normalize(s).split()) for s in source if data.normalize(s)]
    text = str(source)
    if os.path.isfile(text):
        text = data.read_text(text)
    return data.split_sentences(text, max_words, random_lengths=random_lengths, seed=seed)


def train_mirror(
    output_dir,
    text=None,
    valid_text=None,
    test_text=None,
    epochs=10,
    batch_size=64,
    cell="fused",
    seed=0,
    units=128,
    embedding_dim=32,
    encoder_layers=2,
    dropout=0.0,
    learning_rate=3e-3,
    max_words=data.DEFAULT_MAX_WORDS,
    max_length=data.DEFAULT_MAX_LENGTH,
    augment=2,
    random_words=0,
    max_minutes=None,
    verbose=1,
):
    """Trains `mirror-seq2seq` and returns its metrics.

    Writes into `output_dir`: `best.keras` (best validation loss), `last.keras`,
    `log.csv` (CSVLogger) and `backup/` (BackupAndRestore: an interrupted run
    resumes from its last epoch when called again with the same arguments).

    Args:
        output_dir: str, where checkpoints and logs go.
        text: training text: a file path, the text itself, a list of sentences,
            or None for the offline corpus (`zoo.datasets.mirror.offline_text`).
        valid_text: validation text (same forms); None holds out 10% of `text`.
        test_text: held-out text for the final `evaluate_mirror`; None uses the
            validation sentences. Sentences that also occur in the training set
            (or are longer than `max_length`) are left out.
        epochs: int, training epochs. Defaults to `10`.
        batch_size: int. Defaults to `64`.
        cell: str, `"fused"`, `"gate"` or `"keras"`. Defaults to `"fused"`.
        seed: int, seeds Keras, the sentence splits and shuffling.
        units, embedding_dim, encoder_layers, dropout, learning_rate: model
            settings (see `build_mirror_model`).
        max_words: int, the most words in a sentence. Defaults to `10`.
        max_length: int, the longest sentence in characters. Defaults to `100`.
        augment: int, extra random-length splits of the training text (each
            gives other sentences of 1..max_words words). Defaults to `2`.
        random_words: int, random letter-string words added to the training
            sentences (teaches mirroring of unseen words). Defaults to `0`.
        max_minutes: float or None, stop (cleanly, checkpoint written) after
            this much training time. Defaults to `None` (no limit).
        verbose: int, Keras progress-bar verbosity.

    Returns:
        dict: `train_sentences`, `valid_sentences`, `epochs_run`, `train_seconds`,
        final `loss`/`val_loss`/`char_accuracy`/`val_char_accuracy`, the test
        metrics of `evaluate_mirror` on the best checkpoint (prefixed `test_`),
        and `checkpoint` (the path of `best.keras`).
    """
    if epochs < 1:
        raise ValueError(f"`epochs` must be >= 1, got {epochs}.")
    os.makedirs(output_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    if text is None:
        text = data.offline_text(seed=seed)
    train = _sentences_from(text, max_words, seed=seed)
    if valid_text is None:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(train))
        n_valid = max(1, len(train) // 10)
        valid = [train[i] for i in order[:n_valid]]
        held = set(valid)
        train = [train[i] for i in order[n_valid:]]
        base_text = train
    else:
        valid = _sentences_from(valid_text, max_words)
        held = set(valid)
        base_text = text
    for a in range(augment):
        if isinstance(base_text, list):
            extra = data.split_sentences(" ".join(base_text), max_words, True, seed + 1 + a)
        else:
            extra = _sentences_from(base_text, max_words, True, seed + 1 + a)
        train += [s for s in extra if s not in held]
    if random_words:
        train += data.split_sentences(
            data.random_word_text(random_words, seed=seed + 100), max_words, True, seed)
    train = [s for s in train if len(s) <= max_length]
    valid = [s for s in valid if len(s) <= max_length]
    test = _sentences_from(test_text, max_words) if test_text is not None else valid
    seen = set(train)
    held_out = [s for s in test if len(s) <= max_length and s not in seen]
    overlap = len(test) - len(held_out)
    test = held_out

    train_ds = data.make_dataset(train, batch_size, max_length, shuffle=True, seed=seed)
    valid_ds = data.make_dataset(valid, batch_size, max_length)
    model = build_mirror_model(
        units=units, embedding_dim=embedding_dim, encoder_layers=encoder_layers, cell=cell,
        dropout=dropout, max_length=max_length, learning_rate=learning_rate)
    from zoo.training.callbacks import AtomicModelCheckpoint, atomic_save  # noqa: PLC0415

    best_path = os.path.join(output_dir, "best.keras")
    callbacks = [  # checkpoints are written to a temporary name and renamed: never half written
        AtomicModelCheckpoint(best_path, monitor="val_loss", save_best_only=True),
        keras.callbacks.BackupAndRestore(os.path.join(output_dir, "backup")),
        keras.callbacks.CSVLogger(os.path.join(output_dir, "log.csv"), append=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
    ]
    if max_minutes is not None:
        callbacks.append(TimeLimit(60.0 * max_minutes))
    start = time.perf_counter()
    history = model.fit(train_ds, validation_data=valid_ds, epochs=epochs,
                        callbacks=callbacks, verbose=verbose, shuffle=False)
    train_seconds = time.perf_counter() - start
    atomic_save(model, os.path.join(output_dir, "last.keras"))
    if not os.path.exists(best_path):  # resumed after the last epoch: nothing new to check
        atomic_save(model, best_path)
    best = load_mirror(best_path)
    result = {
        "train_sentences": len(train),
        "valid_sentences": len(valid),
        "epochs_run": len(history.history.get("loss", [])),
        "train_seconds": train_seconds,
        "checkpoint": best_path,
        "test_removed_seen_or_too_long": overlap,
    }
    for key, values in history.history.items():
        if values and key != "learning_rate":
            result[key] = float(values[-1])
    for key, value in evaluate_mirror(best, test).items():
        result[f"test_{key}"] = value
    with open(os.path.join(output_dir, "metrics.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerows(sorted(result.items()))
    return result
