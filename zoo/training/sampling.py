"""Batch-1 copies of a language model: sampling text and the text8 notebook's validation.

- `batch_copy(model, length)`: a stateful copy of any zoo language model (word, character or
  bigram) at batch 1 with another input length, sharing nothing with the original.
- `sample_ids(step_model, prime_ids, length, ...)`: ids sampled one at a time.
- `notebook_perplexity(model, ids, ...)`: the text8 notebook's validation perplexity.
- `SampleText`: a callback that prints samples during `fit` (the keras.io character-LSTM
  example's), for any zoo language model.
"""

import keras
import numpy as np

from zoo import checks
from zoo.training.states import _sync_backend_state
from zoo.training.states import reset_rnn_states

#: What the text8 notebook's `logprob` clamps a predicted probability to, at least.
PROBABILITY_FLOOR = 1e-10


def input_width(model):
    """Ids one prediction reads: input length − output length + 1 (1; 2 for bigram models)."""
    return int(model.input.shape[1]) - int(model.output.shape[1]) + 1


def batch_copy(model, length, batch_size=1):
    """A stateful copy of `model` reading `(batch_size, length)` ids, with `model`'s weights.

    The copy is `keras.models.clone_model` on a new `keras.Input`, so the stateful RNNs are
    built for the new batch size; its states start at zero.
    """
    inputs = keras.Input(batch_shape=(batch_size, length), dtype=model.input.dtype)
    copy = keras.models.clone_model(model, input_tensors=inputs)
    copy_weights(model, copy)
    return copy


def copy_weights(model, copy):
    """Writes `model`'s current weights into `copy` (a `batch_copy`) and zeroes its states."""
    _sync_backend_state(model)
    copy.set_weights(model.get_weights())
    reset_rnn_states(copy)


def _softmax(logits):
    z = np.asarray(logits, dtype="float64")
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def sample_ids(step_model, prime_ids, length, temperature=1.0, rng=None):
    """Samples `length` ids after `prime_ids` from a batch-1, one-prediction stateful model.

    The prime runs through the state first; each sampled id is fed back. A temperature
    ≤ 1e-6 takes the argmax (greedy, deterministic); otherwise the logits are divided by it.

    Args:
        step_model: keras.Model, input `(1, width)` ids, output `(1, 1, vocab)` logits (e.g.
            a `batch_copy(model, input_width(model))`); its states are used as they are.
        prime_ids: list of int, at least `width` ids.
        length: int, ids to sample.
        temperature: float, the softmax temperature. Defaults to `1.0`.
        rng: numpy `Generator` or None. Defaults to a fresh unseeded one.

    Returns:
        list of int, the sampled ids.
    """
    width = int(step_model.input.shape[1])
    if len(prime_ids) < width:
        checks.invalid("prime_ids", f"at least {width} ids for this model", prime_ids,
                       shown=f"{len(prime_ids)} id(s)")
    rng = np.random.default_rng() if rng is None else rng

    def feed(window):
        x = np.asarray(window, dtype="int32").reshape(1, width)
        return np.asarray(step_model.predict_on_batch(x), dtype="float64")[0, -1]

    history = list(prime_ids)
    logits = None
    for t in range(width - 1, len(history)):
        logits = feed(history[t - width + 1:t + 1])
    out = []
    for _ in range(length):
        if temperature <= 1e-6:
            nxt = int(np.argmax(logits))
        else:
            p = _softmax(logits / temperature)
            nxt = int(rng.choice(len(p), p=p))
        out.append(nxt)
        history.append(nxt)
        logits = feed(history[-width:])
    return out


def notebook_perplexity(model, ids, num_predictions=1000, stride=1, copy=None):
    """The text8 notebook's validation perplexity of `model`'s weights on `ids`.

    From a zero state at batch 1, prediction `k` reads the `width` ids at positions
    `k·stride …` (mod `len(ids)`) and is scored on the next one, so with the notebook's
    1,000 characters of validation text the last target wraps to the first character. The
    perplexity is `exp` of the mean of `−log max(p, 1e-10)` (the notebook's `logprob`).
    `stride=2` on a bigram model feeds every other pair, as the bigram notebook validates.

    Args:
        model: keras.Model, a zoo language model (any batch size and length).
        ids: 1-D int array, the validation ids.
        num_predictions: int, predictions scored. Defaults to `1000` (the notebook's
            `valid_size`).
        stride: int, positions between two predictions. Defaults to `1`.
        copy: keras.Model or None, a `batch_copy` of `model` to reuse: input length
            `num_predictions + width − 1` for `stride=1`, `width` otherwise.

    Returns:
        float, the perplexity.
    """
    num_predictions = checks.positive_int("num_predictions", num_predictions)
    stride = checks.positive_int("stride", stride)
    ids = np.asarray(ids)
    width, n = input_width(model), len(ids)
    starts = np.arange(num_predictions) * stride
    targets = ids[(starts + width) % n]
    if stride == 1:  # one stateful pass: the same predictions as one at a time
        length = num_predictions + width - 1
        copy = copy if copy is not None else batch_copy(model, length)
        copy_weights(model, copy)
        x = ids[np.arange(length) % n].astype("int32")[None]
        logits = np.asarray(copy.predict_on_batch(x))[0]
    else:
        copy = copy if copy is not None else batch_copy(model, width)
        copy_weights(model, copy)
        logits = np.stack([
            np.asarray(copy.predict_on_batch(
                ids[(s + np.arange(width)) % n].astype("int32")[None]))[0, -1]
            for s in starts])
    p = _softmax(logits)[np.arange(num_predictions), targets]
    return float(np.exp(np.mean(-np.log(np.maximum(p, PROBABILITY_FLOOR)))))


def _global_step(callback, epoch, batch):
    return epoch * callback.params.get("steps", 0) + batch


def _verbose(callback):
    return bool(callback.params.get("verbose", 1))


@keras.saving.register_keras_serializable(package="zoo")
class SampleText(keras.callbacks.Callback):
    """Prints text sampled from the model during `fit`, every `every_n_steps` steps.

    As the text8 notebook does every 1,000 steps: `num_samples` samples of `length` tokens,
    each started from tokens drawn at random (from a random distribution, as the notebook's
    `sample(random_distribution())`), from a batch-1 copy of the model with zero states.
    Works for any zoo language model: word, character or bigram (which starts from two
    random characters). Steps count from the start of training (epoch × steps_per_epoch +
    batch, 0-based), so step 0, the first update, prints samples too. Nothing is printed with
    `fit(verbose=0)`; the samples are kept in `samples` as `(step, [text, ...])`.

    Args:
        every_n_steps: int, steps between two rounds of samples. Defaults to `1000`.
        num_samples: int, samples per round. Defaults to `5`.
        length: int, tokens per sample, the random start included. Defaults to `80`.
        temperature: float, the softmax temperature; ≤ 1e-6 samples greedily.
            Defaults to `1.0`.
        decode: callable or None, a list of ids → the text printed. Defaults to the ids
            joined by spaces.
        seed: int or None, seeds the random starts and the sampling. Defaults to `None`.

    Example:
    ```python
    vocab = [text8.id2char(i) for i in range(27)]
    model.fit(ds, steps_per_epoch=1000, epochs=7, callbacks=[
        SampleText(1000, decode=lambda ids: "".join(vocab[i] for i in ids))])
    ```
    """

    def __init__(self, every_n_steps=1000, num_samples=5, length=80, temperature=1.0,
                 decode=None, seed=None):
        super().__init__()
        self.every_n_steps = checks.positive_int("every_n_steps", every_n_steps)
        self.num_samples = checks.positive_int("num_samples", num_samples)
        self.length = checks.positive_int("length", length)
        self.temperature = checks.non_negative_number("temperature", temperature)
        self.decode = decode
        self.seed = seed
        self.samples = []
        self._rng = np.random.default_rng(seed)
        self._copy = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = _global_step(self, self._epoch, batch)
        if step % self.every_n_steps == 0:
            self.sample(step)

    def sample(self, step=None):
        """Draws one round of samples now; prints them unless `fit(verbose=0)`."""
        if self._copy is None:
            self._copy = batch_copy(self.model, input_width(self.model))
        width = int(self._copy.input.shape[1])
        vocab = int(self.model.output.shape[-1])
        texts = []
        for _ in range(self.num_samples):
            copy_weights(self.model, self._copy)
            start = []
            for _ in range(width):
                dist = self._rng.uniform(0.0, 1.0, vocab)
                start.append(int(self._rng.choice(vocab, p=dist / dist.sum())))
            ids = start + sample_ids(self._copy, start, max(self.length - width, 0),
                                     self.temperature, self._rng)
            ids = ids[:self.length]
            texts.append(self.decode(ids) if self.decode else " ".join(map(str, ids)))
        self.samples.append((step, texts))
        if self.params and _verbose(self):
            print("\n".join(["=" * 80, *texts, "=" * 80]), flush=True)
        return texts

    def get_config(self):
        return {"every_n_steps": self.every_n_steps, "num_samples": self.num_samples,
                "length": self.length, "temperature": self.temperature, "seed": self.seed}
