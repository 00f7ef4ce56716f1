"""Evaluation-time adaptation of a checkpoint: the cache pointer and dynamic evaluation.

Each adaptation is reported beside the LSTM alone on the same tokens (a batch-1 stream from
zero states). With `tune_on_valid=True` the values are chosen by grid search on the
validation split and only then is the reported split read.
"""

from zoo import checks
from zoo.experiments.evaluate import EVAL_STEPS
from zoo.experiments.evaluate import read_lm_and_corpus
from zoo.experiments.evaluate import split_ids
from zoo.models.lm import copy_to_batch
from zoo.training import cache_pointer
from zoo.training import dynamic_eval

#: Segment length of dynamic evaluation (benkrause/dynamic-evaluation's default).
DYNAMIC_SEQ_LEN = 5
_CACHE_GRIDS = {"window": cache_pointer.WINDOWS, "theta": cache_pointer.THETAS,
                "lambd": cache_pointer.LAMBDAS}
_DYNAMIC_GRIDS = {"learning_rate": dynamic_eval.LEARNING_RATES, "decay": dynamic_eval.DECAYS}


def _values(name, value, tune, default):
    """`value` as a list of candidates: one value, or (tuning only) several."""
    if value is None:
        if not tune:
            raise ValueError(f"Argument `{name}` must be given unless tune_on_valid=True. "
                             f"Received: {name}=None")
        return list(default)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values or (len(values) > 1 and not tune):
        checks.invalid(name, "one value (several only with tune_on_valid=True)", value)
    return values


def _check(cache, dynamic, tune, split):
    """Every argument checked, before anything is loaded; the normalised settings."""
    checks.boolean("tune_on_valid", tune)
    checks.one_of("split", split, ("train", "test") if tune else ("train", "valid", "test"))
    if cache is None and dynamic is None:
        raise ValueError("Arguments `cache` and `dynamic` must not both be None: give the "
                         "settings of at least one adaptation")
    settings = {}
    if cache is not None:
        c = dict(cache)
        unknown = set(c) - {"window", "theta", "lambd", "similarity", "hidden_layer"}
        if unknown:
            checks.invalid("cache", "a dict of window, theta, lambd, similarity, hidden_layer",
                           sorted(unknown))
        c.setdefault("similarity", "dot")
        c.setdefault("hidden_layer", "hidden")
        grids = {k: _values(k, c.get(k), tune, d) for k, d in _CACHE_GRIDS.items()}
        for w in grids["window"]:
            for t in grids["theta"]:
                for v in grids["lambd"]:
                    cache_pointer.check_cache_args(w, t, v, c["similarity"])
        settings["cache"] = (grids, c)
    if dynamic is not None:
        d = dict(dynamic)
        unknown = set(d) - {"learning_rate", "decay", "method", "seq_len", "epsilon",
                            "stats_batches"}
        if unknown:
            checks.invalid("dynamic", "a dict of learning_rate, decay, method, seq_len, "
                           "epsilon, stats_batches", sorted(unknown))
        d.setdefault("method", "sgd")
        d.setdefault("epsilon", 2e-5)
        d["seq_len"] = checks.positive_int("seq_len", d.get("seq_len", DYNAMIC_SEQ_LEN))
        if d.get("stats_batches") is not None:
            checks.positive_int("stats_batches", d["stats_batches"])
        grids = {k: _values(k, d.get(k), tune, g) for k, g in _DYNAMIC_GRIDS.items()}
        for lr in grids["learning_rate"]:
            for decay in grids["decay"]:
                dynamic_eval.check_dynamic_args(lr, decay, d["method"], d["epsilon"])
        settings["dynamic"] = (grids, d)
    return settings


def evaluate_adapted(checkpoint, split="test", data="synthetic", data_dir=None,
                     corpus_tokens=None, corpus_vocab=None, seed=0, cache=None, dynamic=None,
                     tune_on_valid=False, verbose=0):
    """Perplexity of a checkpoint with the cache pointer and/or dynamic evaluation.

    Args:
        checkpoint, split, data, data_dir, corpus_tokens, corpus_vocab, seed: as
            `zoo.experiments.evaluate.evaluate_lm` (`split` other than "valid" when tuning).
        cache: dict or None: `window`, `theta`, `lambd` (each a value, or with
            `tune_on_valid` a list of candidates or omitted for the default grid),
            `similarity` ("dot"), `hidden_layer` ("hidden"). See
            `zoo.training.cache_pointer_perplexity`.
        dynamic: dict or None: `learning_rate`, `decay` (values or candidates, as for
            `cache`), `method` ("sgd" or "rms"), `seq_len` (5), `epsilon` (2e-5),
            `stats_batches` (rms: training batches for the gradient statistics; all).
        tune_on_valid: bool, choose the values by grid search on the valid split.
        verbose: 0 or 1, progress bars.

    Returns:
        A list of dicts, one per adaptation: `method` ("cache" or "dynamic"), `split`,
        `tokens`, `perplexity`, `model_perplexity`, `params` (the values used) and `valid`
        (the search's best valid perplexity and the LSTM alone's, or None).

    Raises:
        ValueError: any bad value, before the checkpoint is read.
    """
    settings = _check(cache, dynamic, tune_on_valid, split)
    checks.one_of("verbose", verbose, (0, 1))
    model, config, corpus = read_lm_and_corpus(checkpoint, data, data_dir, corpus_tokens,
                                               corpus_vocab, seed)
    if config.family == "bigram":
        raise ValueError(f"{checkpoint} is a bigram model (it reads num_steps + 1 characters "
                         "for num_steps predictions): the cache pointer and dynamic "
                         "evaluation take word and char models")
    vocab = len(corpus.vocab)
    valid = split_ids(corpus, "valid", data) if tune_on_valid else None
    results = []
    if "cache" in settings:
        grids, c = settings["cache"]
        clone = copy_to_batch(model, config, vocab, batch_size=1, num_steps=EVAL_STEPS)
        kw = {"hidden_layer": c["hidden_layer"], "similarity": c["similarity"],
              "verbose": verbose}
        found = None
        if tune_on_valid:
            found = cache_pointer.tune_cache_pointer(clone, valid, grids["window"],
                                                     grids["theta"], grids["lambd"], **kw)
        params = {k: (found[k] if found else grids[k][0]) for k in grids}
        ids = split_ids(corpus, split, data)
        ppl, plain = cache_pointer.cache_pointer_perplexity(clone, ids, **params, **kw)
        results.append(_result("cache", split, ids, EVAL_STEPS, ppl, plain,
                               {**params, "similarity": c["similarity"]}, found))
    if "dynamic" in settings:
        grids, d = settings["dynamic"]
        clone = copy_to_batch(model, config, vocab, batch_size=1, num_steps=d["seq_len"])
        stats = None
        if d["method"] == "rms":
            big = copy_to_batch(model, config, vocab, batch_size=config.batch_size,
                                num_steps=d["seq_len"])
            stats = dynamic_eval.gradient_statistics(big, corpus.train, d.get("stats_batches"),
                                                     verbose)
        kw = {"method": d["method"], "statistics": stats, "epsilon": d["epsilon"],
              "verbose": verbose}
        found = None
        if tune_on_valid:
            found = dynamic_eval.tune_dynamic_eval(clone, valid, grids["learning_rate"],
                                                   grids["decay"], **kw)
        params = {k: (found[k] if found else grids[k][0]) for k in grids}
        ids = split_ids(corpus, split, data)
        ppl, plain = dynamic_eval.dynamic_eval_perplexity(clone, ids, **params, **kw)
        results.append(_result("dynamic", split, ids, d["seq_len"], ppl, plain,
                               {**params, "method": d["method"], "seq_len": d["seq_len"]},
                               found))
    return results


def _result(method, split, ids, length, ppl, plain, params, found):
    return {"method": method, "split": split, "tokens": (len(ids) - 1) // length * length,
            "perplexity": ppl, "model_perplexity": plain, "params": params,
            "valid": None if found is None else {"perplexity": found["perplexity"],
                                                 "model_perplexity": found["model_perplexity"]}}
