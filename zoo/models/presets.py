"""The named presets of `zoo.models.configs`: the seeds' recipes, field for field.

`PRESETS` lists every preset as `(class name, fields)`, `"LMConfig"` or `"MirrorConfig"`, in
registry order; `zoo.models.configs` builds and registers them. Data only (no imports):
change a recipe here.
"""

# The TensorFlow PTB tutorial's configs (ptb_word_lm.py), field for field, and the two PTB-style
# variants. The tutorial's variable scope draws every variable it does not initialise itself
# (embedding, LSTM kernels, softmax_w and softmax_b) uniform in ±init_scale; its LSTM cells
# (BasicLSTMCell, LSTMBlockCell) start their biases at zero: softmax_bias_init="uniform".
_PTB_COLUMNS = ("init_scale", "learning_rate", "max_grad_norm", "num_layers", "num_steps",
                "hidden_size", "max_epoch", "max_max_epoch", "keep_prob", "lr_decay",
                "batch_size")
_PTB_TABLE = [
    # name, init, lr, clip, layers, steps, hidden, max_epoch, epochs, keep, decay, batch
    ("ptb-small", 0.1, 1.0, 5.0, 2, 20, 200, 4, 13, 1.0, 0.5, 20,
     "PTB tutorial small: 2x200, 20 steps, 13 epochs, no dropout"),
    ("ptb-medium", 0.05, 1.0, 5.0, 2, 35, 650, 6, 39, 0.5, 0.8, 20,
     "PTB tutorial medium: 2x650, 35 steps, 39 epochs, dropout 0.5"),
    ("ptb-large", 0.04, 1.0, 10.0, 2, 35, 1500, 14, 55, 0.35, 1 / 1.15, 20,
     "PTB tutorial large: 2x1500, 35 steps, 55 epochs, dropout 0.65"),
    ("ptb-test", 0.1, 1.0, 1.0, 1, 2, 2, 1, 1, 1.0, 0.5, 20,
     "PTB tutorial test: 1x2, 2 steps, 1 epoch (a smoke test)"),
    ("ptb-notebook", 0.1, 1.0, 5.0, 2, 20, 200, 1, 13, 1.0, 0.5, 30,
     "the seed notebook's PTB variant: 2x200, batch 30, lr x decay at epoch 2, then linear"),
]
# The default of `python train.py`: the small recipe sized for the generated corpus on a
# 2-core CPU (a few minutes); see README "Results".
_SYNTHETIC_SMALL = ("synthetic-small", 0.1, 1.0, 5.0, 2, 20, 200, 4, 6, 1.0, 0.5, 20,
                    "default: 2x200 word LSTM sized for the generated offline corpus")

# The text8 notebook (Udacity assignment 6): one LSTM of 64 units over one-hot characters,
# 10 unrollings, batch 64, SGD lr 10 decayed x0.1 every 5000 steps, clip 1.25, 7001 updates
# (7 "epochs" of 1000 and its logged step 7000), a report every 100 steps. Its loss is the
# mean over all tokens (no num_steps scale). Every weight matrix is drawn with
# `tf.truncated_normal(shape, -0.1, 0.1)`: mean -0.1 (a famous quirk), stddev 0.1, truncated
# to [-0.3, 0.1] (weight_init="notebook"); biases start at zero.
_TEXT8 = dict(init_scale=0.1, weight_init="notebook", learning_rate=10.0, max_grad_norm=1.25,
              num_layers=1, num_steps=10, hidden_size=64, max_epoch=1, max_max_epoch=7,
              extra_steps=1, keep_prob=1.0, lr_decay=0.1, batch_size=64, vocab_size=27,
              schedule="step", decay_steps=5000, steps_per_epoch=1000, loss_scale="mean",
              summary_frequency=100)
# The embedded variants draw their embeddings with `tf.random_uniform(shape, -1.0, 1.0)`.
# The bigram run the notebook's solution made: no dropout in effect (keep_prob_train 1.0), 11
# characters a batch giving 9 (pair, next character) examples while the stream advances 10,
# lr x0.1 every 15000 steps over 21001, validation feeding every other pair.
_TEXT8_EMBED = dict(_TEXT8, embedding_size=128, embedding_init_scale=1.0)
_TEXT8_BIGRAM = dict(_TEXT8_EMBED, num_steps=9, batch_stride=10, decay_steps=15000,
                     max_max_epoch=21, valid_stride=2)


def _ptb(name, *values):
    *values, description = values
    schedule = "notebook" if name == "ptb-notebook" else "ptb"
    return ("LMConfig", dict(name=name, family="word", description=description,
                             schedule=schedule, softmax_bias_init="uniform",
                             **dict(zip(_PTB_COLUMNS, values))))


PRESETS = [
    *(_ptb(*row) for row in _PTB_TABLE),
    ("LMConfig", dict(name="text8-char", family="char", **_TEXT8,
                      description="text8 notebook: 1x64 LSTM on one-hot characters, 10 "
                                  "unrollings")),
    ("LMConfig", dict(name="text8-embed", family="char", **_TEXT8_EMBED,
                      description="text8 notebook, embedded: 128-d character embedding into "
                                  "1x64 LSTM")),
    ("LMConfig", dict(name="text8-bigram", family="bigram", **_TEXT8_BIGRAM,
                      description="text8 notebook, bigram: BigramEmbedding 128 into 1x64 "
                                  "LSTM, 9 pairs a batch, 21001 steps")),
    _ptb(*_SYNTHETIC_SMALL),
    # The text8 notebook's unsolved exercise: a character encoder-decoder that mirrors every
    # word of a sentence (zoo.models.mirror); Adam with clip-norm.
    ("MirrorConfig", dict(name="mirror-seq2seq", epochs=4, batch_size=64, units=192,
                          embedding_dim=32, encoder_layers=1, learning_rate=3e-3,
                          clipnorm=1.0, augment=1,
                          description="word mirror: char encoder-decoder with attention "
                                      "(text8 exercise)")),
]
