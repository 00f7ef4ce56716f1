"""Decoding a `MirrorSeq2Seq` at the level of ids: greedy decoding and beam search.

`MirrorSeq2Seq.decode_ids` calls these. Strings meet the model one level up, in
`zoo.experiments.mirror_eval` (`mirror_sentence`, `evaluate_mirror`), which encodes them with
`zoo.datasets.mirror`: its ids for padding, start and end are the ones below (a test checks).
"""

import numpy as np
from keras import ops

PAD, START, END = 0, 1, 2


def greedy_decode(model, enc):
    """Greedy decoding of encoder ids `enc` `(batch, steps)`: output ids `(batch, steps)`."""
    batch, steps = enc.shape
    encoder_states, keys, encoder_mask = model.encode(enc)
    states = model.initial_decoder_states(batch)
    prev = np.full((batch,), START, np.int32)
    result = np.zeros((batch, steps), np.int32)
    done = np.zeros((batch,), bool)
    for t in range(steps):
        logp, states = model.decode_step(prev, states, encoder_states[:, t],
                                         encoder_states, keys, encoder_mask)
        prev = np.argmax(ops.convert_to_numpy(logp), axis=-1).astype(np.int32)
        prev[done] = PAD
        result[:, t] = prev
        done |= prev == END
        if done.all():
            break
    return result


def beam_decode(model, enc, k):
    """Beam search of width `k` over encoder ids `enc`: the best output ids per sentence."""
    batch, steps = enc.shape
    encoder_states, keys, encoder_mask = model.encode(enc)
    # Every sentence gets k beams: rows b*k .. b*k+k-1.
    rep = np.repeat(np.arange(batch), k)
    encoder_states = ops.take(encoder_states, rep, axis=0)
    keys = ops.take(keys, rep, axis=0)
    encoder_mask = ops.take(encoder_mask, rep, axis=0)
    states = model.initial_decoder_states(batch * k)
    prev = np.full((batch * k,), START, np.int32)
    scores = np.tile(np.array([0.0] + [-np.inf] * (k - 1)), batch)  # one live beam at t=0
    history = np.zeros((batch * k, 0), np.int32)
    done = np.zeros((batch * k,), bool)
    vocab = model.vocab_size
    for t in range(steps):
        logp, states = model.decode_step(prev, states, encoder_states[:, t],
                                         encoder_states, keys, encoder_mask)
        logp = ops.convert_to_numpy(logp).astype(np.float64)
        # A finished beam only extends with padding, at no cost.
        logp[done] = -np.inf
        logp[done, PAD] = 0.0
        total = (scores[:, None] + logp).reshape(batch, k * vocab)
        best = np.argsort(-total, axis=1, kind="stable")[:, :k]
        parent = (best // vocab + np.arange(batch)[:, None] * k).reshape(-1)
        token = (best % vocab).reshape(-1).astype(np.int32)
        scores = np.take_along_axis(total, best, axis=1).reshape(-1)
        history = np.concatenate([history[parent], token[:, None]], axis=1)
        done = done[parent] | (token == END) | (token == PAD)
        states = [ops.take(s, parent, axis=0) for s in states]
        prev = token
        if done.all():
            break
    top = np.argmax(scores.reshape(batch, k), axis=1) + np.arange(batch) * k
    return history[top]
