"""zoo: a Keras-idiomatic model zoo of LSTM language models.

Subpackages are imported lazily: `import zoo` does not import TensorFlow.
`zoo.layers` needs only Keras 3 (any backend); `zoo.datasets` needs TensorFlow
for its tf.data pipelines.
"""

__version__ = "0.1.0"
