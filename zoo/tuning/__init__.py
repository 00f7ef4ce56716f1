"""keras-tuner searches over the zoo's language models (needs the `tune` extra).

- `LMHyperModel` (word, char and bigram language models), `hypermodel_for(config,
  vocab_size, space=...)`;
- `make_tuner(hypermodel, "random" | "bayesian" | "hyperband", ...)`, objective `OBJECTIVE`
  (`val_perplexity`, min);
- `write_report(...)`, `check_trials(...)`: the summary table, the best hyperparameters and
  model, and a clear error when every trial failed;
- `run_search(config, ...)` (`zoo.tuning.run`): one search, local or distributed, as
  `python train.py tune ...` runs it; returns a `SearchResult`. `zoo.tuning.space`: search
  spaces from JSON and from `MIN:MAX`-style text.
"""

from zoo.tuning.hypermodels import (OBJECTIVE, LMHyperModel, default_space, hypermodel_for,
                                    normalize_space)
from zoo.tuning.search import (SearchFailedError, check_trials, distributed_role,
                               format_markdown, make_tuner, trial_rows, write_report)

__all__ = [
    "OBJECTIVE", "LMHyperModel", "SearchFailedError", "check_trials", "default_space",
    "distributed_role", "format_markdown", "hypermodel_for", "make_tuner", "normalize_space",
    "trial_rows", "write_report",
]
