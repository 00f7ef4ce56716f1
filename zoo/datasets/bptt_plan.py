"""Variable-length BPTT (AWD-LSTM, Merity et al. 2017): each epoch's plan of sequence lengths.

`bptt_lengths(seed, epoch, num_tokens, bptt=70)`: the plan (`BPTTPlan`: start offsets,
lengths, learning-rate scales) of one epoch over a row of `num_tokens` tokens, a pure
function of `(seed, epoch)`. The batches of those plans for `model.fit` are
`zoo.datasets.variable_bptt_dataset` (module `variable_bptt`).

The plan follows the reference training loop (salesforce/awd-lstm-lm `main.py`): while
`i < num_tokens - 2`, draw `base = bptt` with probability 0.95, else `bptt / 2`; draw
`seq_len = max(5, int(normal(base, 5)))`; the batch covers `[i, i + min(seq_len,
num_tokens - 1 - i))`; the learning rate of that batch is scaled by `seq_len / bptt` (the
length drawn, also for the last batch that is cut to what is left, as the reference does);
then `i += seq_len`. Importing this module needs only numpy.
"""

import collections

import numpy as np

from zoo import checks

#: Probability of drawing the full `bptt` as the mean length (else `bptt / 2`).
P_FULL = 0.95
#: Standard deviation of the length draw.
LENGTH_STDDEV = 5.0
#: No sequence is shorter than this (and `bptt` must be at least this).
MIN_LENGTH = 5


class BPTTPlan(collections.namedtuple("BPTTPlan", ["starts", "lengths", "lr_scales"])):
    """One epoch's batches: column offsets, lengths and learning-rate scales (numpy arrays).

    Batch `k` reads `x = data[:, starts[k] : starts[k] + lengths[k]]` and `y` shifted by one;
    its learning rate is `base_rate * lr_scales[k]`.
    """

    __slots__ = ()

    def __len__(self):
        return len(self.lengths)


def _bucketed(length, bucket):
    """`length` rounded to the nearest multiple of `bucket` (halves up), at least `bucket`."""
    return max(bucket, bucket * int(np.floor(length / bucket + 0.5)))


def bptt_lengths(seed, epoch, num_tokens, bptt=70, bucket=None):
    """The plan of variable sequence lengths of one epoch, as the AWD-LSTM reference draws it.

    A pure function of its arguments: the draws come from a NumPy `Generator` seeded with
    `[seed, epoch]` (the global RNG is never used), so a resumed run replays any epoch's plan.

    Args:
        seed: int >= 0, the run's seed.
        epoch: int >= 0, the epoch (0-based, as Keras counts).
        num_tokens: int, tokens in one row of the batchified data (`len(ids) // batch_size`).
        bptt: int >= 5, the mean sequence length. Defaults to `70`.
        bucket: int or None. When an int, every drawn length is rounded to the nearest
            multiple of `bucket` (at least `bucket`), and the last batch is cut to the
            largest multiple that fits (dropped when none does), so at most about
            `(bptt + 25) / bucket` distinct lengths occur. Use it on JAX, which compiles
            the training step once for every new sequence length (`bucket=5`). The scale of
            the learning rate is the bucketed length over `bptt`. Defaults to `None`
            (exact lengths, as the reference; TensorFlow traces once for all lengths).

    Returns:
        `BPTTPlan(starts, lengths, lr_scales)`: int64, int64 and float64 arrays of equal
        length; `starts[0] == 0`, `starts[k + 1] == starts[k] + drawn length k`, and the
        last batch ends at column `num_tokens - 1` (its last target is the row's last
        token), unless a batch ends at `num_tokens - 2`, where the reference loop stops.

    Raises:
        ValueError: for a bad argument or a row too short for one batch (`num_tokens < 3`).

    Example:
    >>> plan = bptt_lengths(seed=1, epoch=0, num_tokens=1000)
    >>> int(plan.starts[0]), int(plan.starts[-1] + plan.lengths[-1])
    (0, 999)
    """
    seed = checks.non_negative_int("seed", seed)
    epoch = checks.non_negative_int("epoch", epoch)
    num_tokens = checks.int_at_least("num_tokens", num_tokens, 3)
    bptt = checks.int_at_least("bptt", bptt, MIN_LENGTH)
    if bucket is not None:
        bucket = checks.positive_int("bucket", bucket)
    rng = np.random.default_rng([seed, epoch])
    starts, lengths, scales = [], [], []
    i = 0
    while i < num_tokens - 2:
        mean = bptt if rng.random() < P_FULL else bptt / 2.0
        drawn = max(MIN_LENGTH, int(rng.normal(mean, LENGTH_STDDEV)))
        if bucket is not None:
            drawn = _bucketed(drawn, bucket)
        length = min(drawn, num_tokens - 1 - i)
        if bucket is not None:
            length -= length % bucket
            if length == 0:
                break
        starts.append(i)
        lengths.append(length)
        scales.append(drawn / bptt)
        i += drawn
    return BPTTPlan(np.asarray(starts, np.int64), np.asarray(lengths, np.int64),
                    np.asarray(scales, np.float64))


