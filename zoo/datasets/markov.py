"""A seeded first-order Markov source of words whose entropy rate is known exactly.

`MarkovSource` is a first-order Markov chain over a Zipf-like vocabulary of
generated pseudo-words plus `<eos>`. Each word has a sparse set of successors
(a few words, plus `<eos>` with probability `1 / mean_sentence_length`);
`<eos>` is followed by any word, with Zipf-like probabilities. The chain is
therefore irreducible and aperiodic, and its entropy rate is exact:
`H = Σ_i π_i · H(P[i, :])` with `π` the stationary distribution. No model can
beat `exp(H)` perplexity on text drawn from it.

`zoo.datasets.synthetic` writes corpora drawn from it. Only numpy is needed.
"""

import bisect
import math

import numpy as np

from zoo import checks
from zoo.datasets.ptb import EOS

#: How `<eos>` is written in the text8-style character stream (never a pseudo-word).
EOS_WORD = "eos"
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_CODA = "lnrst"
_DENSE_LIMIT = 4000


def _pseudo_words(num_words, rng):
    """`num_words` unique a-z words, shorter for lower ranks (frequent words are short).

    Every syllable starts with a consonant, so no word equals `eos` or `unk`.
    """
    words, seen = [], set()
    while len(words) < num_words:
        rank = len(words)
        syllables = 1 if rank < 40 else 2 if rank < 600 else 3
        syllables += int(rng.random() < 0.25)
        word = ""
        for _ in range(syllables):
            word += _CONSONANTS[rng.integers(len(_CONSONANTS))] + _VOWELS[rng.integers(5)]
            if rng.random() < 0.2:
                word += _CODA[rng.integers(len(_CODA))]
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class MarkovSource:
    """A seeded first-order Markov source of words with an exact entropy rate.

    Ids: 0 is `<eos>`, 1..`vocab_size`−1 are pseudo-words in Zipf rank order
    (weight `(rank + zipf_offset) ** -zipf_exponent`). Word `w`'s successors are
    `num_successors` distinct words drawn by those weights, with probabilities
    from a symmetric Dirichlet(`concentration`), scaled by `1 − 1 /
    mean_sentence_length`; the rest goes to `<eos>`. `<eos>` is followed by any
    word, with the Zipf weights as probabilities.

    Args:
        vocab_size: int, word types including `<eos>`. Defaults to `300`.
        num_successors: int, successors of each word besides `<eos>`. Defaults to `4`.
        zipf_exponent: float, `s` in the rank weights. Defaults to `1.0`.
        zipf_offset: float, `q` in the rank weights (Zipf–Mandelbrot); larger
            makes rare words less rare. Defaults to `10.0`.
        concentration: float, Dirichlet concentration of successor
            probabilities; smaller is more peaked. Defaults to `1.0`.
        mean_sentence_length: float, mean tokens per sentence, `<eos>` included.
            Defaults to `20.0`.
        seed: int, seed of the chain's structure and words. Defaults to `0`.

    Example:
    >>> source = MarkovSource(vocab_size=300, seed=0)
    >>> round(source.perplexity_floor, 2)  # doctest: +SKIP
    5.69
    >>> " ".join(source.decode(source.sample(8, rng=1)))  # doctest: +SKIP
    'ko ra mi <eos> fe ...'
    """

    def __init__(self, vocab_size=300, num_successors=4, zipf_exponent=1.0, zipf_offset=10.0,
                 concentration=1.0, mean_sentence_length=20.0, seed=0):
        self.vocab_size = checks.int_at_least("vocab_size", vocab_size, 3)
        self.num_successors = checks.positive_int("num_successors", num_successors)
        if self.num_successors > self.vocab_size - 1:
            checks.invalid("num_successors",
                           f"at most vocab_size − 1 = {self.vocab_size - 1}", num_successors)
        self.zipf_exponent = checks.positive_number("zipf_exponent", zipf_exponent)
        self.zipf_offset = checks.non_negative_number("zipf_offset", zipf_offset)
        self.concentration = checks.positive_number("concentration", concentration)
        self.mean_sentence_length = checks.number_above(
            "mean_sentence_length", mean_sentence_length, 1)
        self.seed = int(seed)

        rng = np.random.default_rng(self.seed)
        num_words = self.vocab_size - 1
        weights = (np.arange(1, num_words + 1) + self.zipf_offset) ** -self.zipf_exponent
        weights /= weights.sum()
        self.words = [EOS] + _pseudo_words(num_words, rng)
        p_end = 1.0 / self.mean_sentence_length
        successors, probs = [np.arange(1, self.vocab_size)], [weights]
        for _ in range(num_words):
            succ = 1 + rng.choice(num_words, size=self.num_successors, replace=False, p=weights)
            p = rng.dirichlet(np.full(self.num_successors, self.concentration))
            order = np.argsort(succ)
            successors.append(np.concatenate([[0], succ[order]]))
            probs.append(np.concatenate([[p_end], (1.0 - p_end) * p[order]]))
        self.successors = successors  # list of int arrays, row i = successors of id i
        self.probs = probs  # matching probabilities, each row sums to 1
        self._cum = [np.cumsum(p).tolist() for p in probs]
        for c in self._cum:
            c[-1] = 1.0  # guard against rounding when sampling
        self._succ_lists = [s.tolist() for s in successors]
        self.stationary = self._stationary()
        row_entropy = np.array([-(p * np.log(p)).sum() for p in probs])
        self.entropy_rate = float(self.stationary @ row_entropy)

    def get_config(self):
        return {
            "vocab_size": self.vocab_size, "num_successors": self.num_successors,
            "zipf_exponent": self.zipf_exponent, "zipf_offset": self.zipf_offset,
            "concentration": self.concentration,
            "mean_sentence_length": self.mean_sentence_length, "seed": self.seed,
        }

    def transition_matrix(self):
        """The dense `[vocab_size, vocab_size]` matrix `P[i, j] = p(j | i)`."""
        matrix = np.zeros((self.vocab_size, self.vocab_size))
        for i, (s, p) in enumerate(zip(self.successors, self.probs)):
            matrix[i, s] = p
        return matrix

    def _stationary(self):
        """π with π P = π, Σ π = 1: a linear solve, or power iteration for big vocabularies."""
        v = self.vocab_size
        if v <= _DENSE_LIMIT:
            a = self.transition_matrix().T - np.eye(v)
            a[-1, :] = 1.0  # replace one (redundant) balance equation by Σ π = 1
            b = np.zeros(v)
            b[-1] = 1.0
            pi = np.linalg.solve(a, b)
        else:
            src = np.concatenate([np.full(len(s), i) for i, s in enumerate(self.successors)])
            dst = np.concatenate(self.successors)
            w = np.concatenate(self.probs)
            pi = np.full(v, 1.0 / v)
            for _ in range(100_000):
                new = np.bincount(dst, weights=pi[src] * w, minlength=v)
                if np.abs(new - pi).sum() < 1e-15:
                    pi = new
                    break
                pi = new
        pi = np.clip(pi, 0.0, None)
        return pi / pi.sum()

    @property
    def perplexity_floor(self):
        """`exp(entropy_rate)`: the lowest per-token perplexity any model can reach."""
        return math.exp(self.entropy_rate)

    @property
    def mean_chars_per_token(self):
        """Stationary mean characters per token in `generate_text8`'s stream (word + space)."""
        lengths = np.array([len(EOS_WORD)] + [len(w) for w in self.words[1:]]) + 1.0
        return float(self.stationary @ lengths)

    @property
    def char_entropy_rate(self):
        """Exact entropy rate in nats per character of `generate_text8`'s stream.

        The stream writes each token as a unique a-z word (`<eos>` as `"eos"`)
        followed by a space, so tokens and characters determine each other, and
        the character process carries `entropy_rate` nats every
        `mean_chars_per_token` characters on average: their ratio is its rate.
        A character model reaches it only with enough context to know the
        previous word.
        """
        return self.entropy_rate / self.mean_chars_per_token

    def sample(self, n, rng=None, prev=0):
        """Draws `n` token ids from the chain.

        Args:
            n: int, tokens to draw.
            rng: `np.random.Generator`, int seed or None.
            prev: int, the token before the first one. Defaults to `0`
                (`<eos>`: the sample starts a sentence).

        Returns:
            int32 array of ids (0 = `<eos>`).
        """
        n = checks.non_negative_int("n", n)
        rng = np.random.default_rng(rng)
        out = np.empty(n, dtype=np.int32)
        state = int(prev)
        cum, succ, search = self._cum, self._succ_lists, bisect.bisect_right
        for t, u in enumerate(rng.random(n).tolist()):
            state = succ[state][search(cum[state], u)]
            out[t] = state
        return out

    def sample_sentences(self, min_tokens, rng=None):
        """Draws whole sentences: at least `min_tokens` tokens, ending with `<eos>`.

        Starts a sentence (the token before is `<eos>`) and, after `min_tokens`
        tokens, finishes the current sentence.
        """
        rng = np.random.default_rng(rng)
        pieces = [self.sample(min_tokens, rng)]
        while not len(pieces[-1]) or pieces[-1][-1] != 0:
            prev = int(pieces[-1][-1]) if len(pieces[-1]) else 0
            chunk = self.sample(64, rng, prev=prev)
            ends = np.flatnonzero(chunk == 0)
            pieces.append(chunk[: ends[0] + 1] if len(ends) else chunk)
        return np.concatenate(pieces)

    def log_loss(self, ids, prev=0):
        """Mean −log p(x_t | x_{t−1}) of `ids` under the chain (nats/token)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            raise ValueError("`ids` is empty.")
        matrix = self.transition_matrix()
        prevs = np.concatenate([[prev], ids[:-1]])
        p = matrix[prevs, ids]
        if np.any(p == 0):
            raise ValueError("`ids` contains a transition the chain cannot make.")
        return float(-np.log(p).mean())

    def decode(self, ids):
        """Words of ids (0 → `<eos>`)."""
        return [self.words[i] for i in np.asarray(ids).tolist()]
