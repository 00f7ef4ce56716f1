"""The continuous cache pointer (Grave et al. 2016) on top of a trained language model.

At token `t` the model's next-word distribution is mixed with a distribution over the words
that followed the last `window` hidden states:

    p(w) = (1 - λ) · p_model(w) + λ · Σ_i softmax_i(θ · h_t · h_i) · onehot(w_{i+1})(w),

`i` running over the `min(t, window)` positions before `t`, `h` the hidden state fed to the
softmax. Token 0 has no history and keeps `p_model`. Nothing is trained: λ, θ and the window
are tuned on the validation split (`tune_cache_pointer`), never on test.

Two choices differ from salesforce/awd-lstm-lm's `pointer.py`, whose PTB values are λ 0.1,
θ 1.0, window 500: that script scores its first `window + 1` tokens without the cache (here
every token with a history uses it, as in the paper's formula), and it scores with the cosine
of `h_t` and `h_i`, not their dot product: pass `similarity="cosine"` for that (its θ 1.0 was
tuned for the cosine).
"""

import math

import keras
import numpy as np

from zoo import checks
from zoo.training import _stream
from zoo.training.states import reset_rnn_states

SIMILARITIES = ("dot", "cosine")
#: Default search grids of `tune_cache_pointer`.
WINDOWS = (100, 500, 2000)
THETAS = (0.1, 0.3, 1.0, 3.0)
LAMBDAS = (0.05, 0.1, 0.2, 0.3)
_BLOCK = 256  # queries scored at once: memory is _BLOCK × (_BLOCK + window)


def check_cache_args(window, theta, lambd, similarity="dot"):
    """`(window, theta, lambd, similarity)` checked and converted; ValueError otherwise."""
    return (checks.positive_int("window", window), checks.non_negative_number("theta", theta),
            checks.number_in("lambd", lambd, 0, 1), checks.one_of("similarity", similarity,
                                                                   SIMILARITIES))


def _cache_probs(hiddens, targets, window, theta, similarity, first=0):
    """`p_cache(targets[t])` for `t >= first`, the states before `first` serving as history;
    NaN for token 0, which has none."""
    h = np.asarray(hiddens, dtype="float64")
    targets = np.asarray(targets)
    if similarity == "cosine":
        h = h / np.maximum(np.linalg.norm(h, axis=-1, keepdims=True), 1e-12)
    n = len(targets)
    probs = np.full(n - first, np.nan)
    for s in range(max(first, 1), n, _BLOCK):  # token 0 has no history
        e = min(s + _BLOCK, n)
        k0 = max(0, s - window)
        i = np.arange(s, e)[:, None]
        j = np.arange(k0, e - 1)[None, :]
        scores = np.where((j < i) & (j >= i - window), theta * (h[s:e] @ h[k0:e - 1].T),
                          -np.inf)
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        hits = targets[k0:e - 1][None, :] == targets[s:e, None]
        probs[s - first:e - first] = (weights * hits).sum(axis=1)
    return probs


def _mix(log_p_model, p_cache, lambd):
    """`log((1 - λ) p_model + λ p_cache)`, element-wise, in float64 (`log p_model` where
    `p_cache` is NaN: no history)."""
    log_p_model = np.asarray(log_p_model, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN: no history
        mixed = np.logaddexp(np.log1p(-lambd) + log_p_model, np.log(lambd) + np.log(p_cache))
    return np.where(np.isnan(p_cache), log_p_model, mixed)


def cache_pointer_log_probs(logits, hiddens, targets, window, theta, lambd, similarity="dot"):
    """Per-token log-probabilities of the targets under the cache-pointer mixture.

    The pure core of `cache_pointer_perplexity`, on one stream held in memory.

    Args:
        logits: array (N, V), the model's logits for tokens 0 … N-1.
        hiddens: array (N, H), the hidden state each logit row was computed from.
        targets: int array (N,), the word that followed each position (the ids shifted by
            one).
        window: int >= 1, how many previous states the cache holds.
        theta: float >= 0, the sharpness of the attention over the cache.
        lambd: float in [0, 1], the cache's weight in the mixture (0: the model alone).
        similarity: `"dot"` (`h_t · h_i`, the paper's) or `"cosine"` (awd-lstm-lm's
            `pointer.py`). Defaults to `"dot"`.

    Returns:
        float64 array (N,): `log p(targets[t])`.

    Raises:
        ValueError: a bad argument, or arrays of inconsistent shapes.
    """
    window, theta, lambd, similarity = check_cache_args(window, theta, lambd, similarity)
    logits, hiddens, targets = np.asarray(logits), np.asarray(hiddens), np.asarray(targets)
    if not (logits.ndim == hiddens.ndim == 2 and targets.ndim == 1 and
            len(logits) == len(hiddens) == len(targets)):
        raise ValueError("Arguments `logits`, `hiddens` and `targets` must have the shapes "
                         "(N, V), (N, H) and (N,). Received: shapes "
                         f"{logits.shape}, {hiddens.shape} and {targets.shape}")
    log_p = _stream.target_log_probs(logits, targets)
    return _mix(log_p, _cache_probs(hiddens, targets, window, theta, similarity), lambd)


def hidden_state_model(model, hidden_layer="hidden"):
    """`keras.Model(model.inputs, [logits, hidden state])`, sharing `model`'s layers.

    Args:
        model: functional `keras.Model` from ids to logits.
        hidden_layer: str, the layer whose output feeds the softmax. Defaults to `"hidden"`
            (the AWD model's); a model without such a layer (the other zoo models) falls back
            to the output of its last recurrent layer.

    Raises:
        ValueError: no layer of that name.
    """
    names = [layer.name for layer in model.layers]
    if hidden_layer in names:
        hidden = model.get_layer(hidden_layer).output
    else:
        rnns = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
        if hidden_layer != "hidden" or not rnns:
            checks.invalid("hidden_layer", f"the name of a layer of {model.name}", hidden_layer)
        hidden = rnns[-1].output
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, [model.outputs[0], hidden], name=f"{model.name}_hidden")


def _run(model, ids, hidden_layer, verbose):
    """Yields `(log p_model(targets), hiddens, targets)` chunk by chunk, from zero states."""
    length = _stream.chunk_length(model)
    ids = _stream.stream_ids(ids, length)
    both = hidden_state_model(model, hidden_layer)
    bar = keras.utils.Progbar((len(ids) - 1) // length, unit_name="chunk") if verbose else None
    reset_rnn_states(model)
    try:
        for k, (x, y) in enumerate(_stream.chunks(ids, length)):
            logits, hiddens = _stream.forward(both, x)
            yield _stream.target_log_probs(np.asarray(logits)[0], y), np.asarray(hiddens)[0], y
            if bar is not None:
                bar.update(k + 1)
    finally:
        reset_rnn_states(model)


def cache_pointer_perplexity(model, ids, window, theta, lambd, hidden_layer="hidden",
                             similarity="dot", verbose=0):
    """Perplexity of `model` with the cache pointer on one token stream, and without it.

    The stream is read at batch 1 from zero states, in chunks of the model's static length
    `T` (the state carries over), keeping the last `window` hidden states across chunks.

    Args:
        model: stateful `keras.Model` from ids `(1, T)` to logits `(1, T, V)`.
        ids: 1-D int array, the split (e.g. `corpus.test`).
        window, theta, lambd, similarity: see `cache_pointer_log_probs`.
        hidden_layer: str, see `hidden_state_model`. Defaults to `"hidden"`.
        verbose: 0 or 1, a progress bar over the chunks. Defaults to `0`.

    Returns:
        `(perplexity, model_perplexity)` on the same `T · ((len(ids) - 1) // T)` tokens.

    Example:
    ```python
    clone = zoo.models.copy_to_batch(model, config, vocab_size, batch_size=1, num_steps=50)
    cache_pointer_perplexity(clone, corpus.test, window=500, theta=1.0, lambd=0.1,
                             similarity="cosine")  # (with cache, LSTM alone)
    ```
    """
    window, theta, lambd, similarity = check_cache_args(window, theta, lambd, similarity)
    checks.one_of("verbose", verbose, (0, 1))
    mixed = plain = 0.0
    count = 0
    hist_h = hist_y = None
    for log_p, hiddens, targets in _run(model, ids, hidden_layer, verbose):
        first = 0 if hist_h is None else len(hist_h)
        if hist_h is not None:
            hiddens = np.concatenate([hist_h, hiddens])
            targets = np.concatenate([hist_y, targets])
        p_cache = _cache_probs(hiddens, targets, window, theta, similarity, first=first)
        mixed += float(_mix(log_p, p_cache, lambd).sum())
        plain += float(log_p.sum())
        count += len(log_p)
        hist_h, hist_y = hiddens[-window:], targets[-window:]
    return math.exp(-mixed / count), math.exp(-plain / count)


def tune_cache_pointer(model, ids, windows=WINDOWS, thetas=THETAS, lambdas=LAMBDAS,
                       hidden_layer="hidden", similarity="dot", verbose=0):
    """Grid search of (window, θ, λ) minimising the perplexity on `ids` (the VALID split).

    The model is read once; every grid point is then computed from the stored hidden
    states (float32, `len(ids) × H`).

    Args:
        model, hidden_layer, similarity, verbose: as `cache_pointer_perplexity`.
        ids: 1-D int array, the validation split. Never pass the test split.
        windows, thetas, lambdas: sequences of candidate values. Default to `WINDOWS`,
            `THETAS`, `LAMBDAS`.

    Returns:
        dict: `window`, `theta`, `lambd` (the best), `perplexity` and `model_perplexity`
        on `ids`, and `grid`, a list of `(window, theta, lambd, perplexity)`.
    """
    grids = [[check_cache_args(w, 0.0, 0.0, similarity)[0] for w in windows],
             [checks.non_negative_number("theta", t) for t in thetas],
             [checks.number_in("lambd", v, 0, 1) for v in lambdas]]
    for name, grid in zip(("windows", "thetas", "lambdas"), grids):
        if not grid:
            checks.invalid(name, "a non-empty sequence", [])
    checks.one_of("verbose", verbose, (0, 1))
    parts = list(_run(model, ids, hidden_layer, verbose))
    log_p, hiddens, targets = (np.concatenate(p) for p in zip(*parts))
    results = []
    for window in grids[0]:
        for theta in grids[1]:
            p_cache = _cache_probs(hiddens, targets, window, theta, similarity)
            for lambd in grids[2]:
                ppl = math.exp(-float(_mix(log_p, p_cache, lambd).mean()))
                results.append((window, theta, lambd, ppl))
    best = min(results, key=lambda r: r[3])
    return {"window": best[0], "theta": best[1], "lambd": best[2], "perplexity": best[3],
            "model_perplexity": math.exp(-float(log_p.mean())), "grid": results}
