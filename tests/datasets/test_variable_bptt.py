"""Variable-length BPTT plans and batches (AWD-LSTM, issue 18 §6) against the reference loop."""

import numpy as np
import pytest

from zoo.datasets import bptt_lengths, variable_bptt_dataset


def reference_loop(rng, num_tokens, bptt):
    """salesforce/awd-lstm-lm main.py `train()` with `get_batch`, written out: (i, len, lr×)."""
    out = []
    i = 0
    while i < num_tokens - 1 - 1:
        mean = bptt if rng.random() < 0.95 else bptt / 2.0
        seq_len = max(5, int(rng.normal(mean, 5)))
        out.append((i, min(seq_len, num_tokens - 1 - i), seq_len / bptt))  # get_batch cuts
        i += seq_len
    return out


@pytest.mark.parametrize("num_tokens,bptt", [(5000, 70), (303, 70), (77, 5), (3, 70)])
def test_plan_is_the_reference_loop_with_its_own_generator(num_tokens, bptt):
    for epoch in (0, 3):
        plan = bptt_lengths(seed=11, epoch=epoch, num_tokens=num_tokens, bptt=bptt)
        expected = reference_loop(np.random.default_rng([11, epoch]), num_tokens, bptt)
        assert list(zip(plan.starts.tolist(), plan.lengths.tolist(),
                        plan.lr_scales.tolist())) == expected


def test_plan_is_a_pure_function_of_seed_and_epoch_and_leaves_the_global_rng_alone():
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    a = bptt_lengths(1, 2, 10_000)
    b = bptt_lengths(1, 2, 10_000)
    assert np.random.random() == before
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(bptt_lengths(1, 3, 10_000).lengths[:50], a.lengths[:50])
    assert not np.array_equal(bptt_lengths(2, 2, 10_000).lengths[:50], a.lengths[:50])


def test_plan_statistics():
    plan = bptt_lengths(seed=5, epoch=0, num_tokens=300_000, bptt=70)
    n = len(plan)
    drawn = np.round(plan.lr_scales * 70).astype(int)  # the lengths drawn, last one uncut
    assert drawn.min() >= 5 and plan.lengths.min() >= 1
    np.testing.assert_array_equal(np.diff(plan.starts), drawn[:-1])  # the stream advances
    np.testing.assert_array_equal(plan.lengths[:-1], drawn[:-1])
    assert plan.starts[-1] + plan.lengths[-1] == 300_000 - 1  # the last batch is cut
    half = drawn < 52.5  # N(35, 5) vs N(70, 5): 3.5 sigma apart
    # 5% of draws from N(35, 5): binomial standard error sqrt(.05 * .95 / n) ~ 0.0013.
    assert abs(half.mean() - 0.05) < 5 * np.sqrt(0.05 * 0.95 / n)
    # int() truncates: E[int(N(70, 5))] = 69.5 (to 1e-6); standard error 5 / sqrt(n).
    assert abs(drawn[~half].mean() - 69.5) < 5 * 5 / np.sqrt((~half).sum())
    assert abs(drawn[half].mean() - 34.5) < 5 * 5 / np.sqrt(half.sum())
    assert abs(drawn[~half].std() - np.sqrt(25 + 1 / 12)) < 0.3


def test_bucketed_plan_uses_few_lengths_all_multiples_of_the_bucket():
    plan = bptt_lengths(seed=5, epoch=1, num_tokens=50_003, bptt=70, bucket=5)
    assert np.all(plan.lengths % 5 == 0) and plan.lengths.min() >= 5
    assert len(set(plan.lengths.tolist())) <= 20
    np.testing.assert_array_equal(np.diff(plan.starts), plan.lengths[:-1])
    np.testing.assert_allclose(plan.lr_scales[:-1], plan.lengths[:-1] / 70)
    # Each bucketed length is the reference draw rounded to the nearest multiple of 5.
    exact = reference_loop(np.random.default_rng([5, 1]), 3000, 70)[:30]
    rounded = [max(5, 5 * int(np.floor(n / 5 + 0.5))) for _, n, _ in exact]
    assert plan.lengths[:30].tolist() == rounded
    assert 50_002 - 5 < plan.starts[-1] + plan.lengths[-1] <= 50_002


def ids_and_rows(batch_size, row):
    ids = np.arange(batch_size * row + 2)  # 2 left over: batchify drops them
    return ids, [ids[b * row:(b + 1) * row] for b in range(batch_size)]


def test_dataset_batches_are_the_plans_slices_of_the_batchified_rows():
    ids, rows = ids_and_rows(3, 400)
    ds, fit_kwargs = variable_bptt_dataset(ids, 3, seed=7, epochs=3, bptt=20, bucket=None)
    assert fit_kwargs == {"epochs": 3, "shuffle": False}
    counts = []
    for epoch in range(3):
        ds.set_epoch(epoch)
        plan = bptt_lengths(7, epoch, 400, bptt=20)
        assert ds.num_batches == len(plan) == len(ds)
        counts.append(len(plan))
        previous = None
        for k in range(len(plan)):
            x, y = ds[k]
            s, n = plan.starts[k], plan.lengths[k]
            assert x.shape == y.shape == (3, n) and x.dtype == np.int32
            for b in range(3):
                np.testing.assert_array_equal(x[b], rows[b][s:s + n])
                np.testing.assert_array_equal(y[b], rows[b][s + 1:s + 1 + n])
            if previous is not None:  # row b continues row b of the batch before
                np.testing.assert_array_equal(x[:, 0], previous[:, -1] + 1)
            previous = x
    assert len(set(counts)) > 1, "the plans differ between epochs"
    ds.set_epoch(None)
    assert ds.num_batches == max(counts) + 1  # the bound fit reads when it starts


def test_auto_bucket_follows_the_backend():
    import keras

    ds, _ = variable_bptt_dataset(np.arange(3000), 2, seed=0, epochs=1)
    assert ds.bucket == (5 if keras.backend.backend() == "jax" else None)


@pytest.mark.parametrize("call,message", [
    (lambda: bptt_lengths(0, 0, 100, bptt=4),
     "Argument `bptt` must be an integer >= 5. Received: bptt=4"),
    (lambda: bptt_lengths(-1, 0, 100),
     "Argument `seed` must be an integer >= 0. Received: seed=-1"),
    (lambda: bptt_lengths(0, 0, 100, bucket=0),
     "Argument `bucket` must be a positive integer. Received: bucket=0"),
    (lambda: variable_bptt_dataset(np.arange(100), 2, 0, epochs=2, bptt=4.5),
     "Argument `bptt` must be an integer >= 5. Received: bptt=4.5"),
    (lambda: variable_bptt_dataset(np.arange(100), 2, 0, epochs=0),
     "Argument `epochs` must be a positive integer. Received: epochs=0"),
    (lambda: variable_bptt_dataset(np.arange(100), 2, 0, epochs=1, bucket="yes"),
     "Argument `bucket` must be one of ('auto',). Received: bucket='yes'"),
    (lambda: variable_bptt_dataset(np.arange(5), 2, 0, epochs=1),
     "Argument `ids` must hold at least 3 tokens a row of batch_size=2. Received: 5 ids"),
    (lambda: variable_bptt_dataset(np.arange(10), 2, 0, epochs=1, bucket=5),
     "Argument `ids` must hold at least one bucket of 5 tokens a row. Received: 5 tokens"),
    (lambda: variable_bptt_dataset(np.arange(100), 2, 0, epochs=2)[0].set_epoch(2),
     "Argument `epoch` must be < epochs=2"),
])
def test_bad_arguments(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value).startswith(message)
