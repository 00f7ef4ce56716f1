"""`PairLayer`: a layer called on a pair `(a, b)` that returns `b`, or a function of it.

`EmbeddingDropout((ids, embedded))` and `ActivationRegularization((raw, dropped))` share it:
the output has `b`'s shape and mask, and `_check_shapes` (each layer's own) runs at build.
"""

import keras


class PairLayer(keras.layers.Layer):
    """Base of the layers called on `(a, b)` whose output is shaped and masked as `b`."""

    def _check_shapes(self, input_shape):
        raise NotImplementedError

    def build(self, input_shape):
        self._check_shapes(input_shape)
        self.built = True

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[1]
        return mask

    def compute_output_shape(self, input_shape):
        self._check_shapes(input_shape)
        return tuple(input_shape[1])
