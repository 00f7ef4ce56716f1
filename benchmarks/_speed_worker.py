"""The worker side of `lstm_speed.py`: build, train and time the models.

The parent process (`lstm_speed.py`) never imports Keras; it starts
`lstm_speed.py --worker timing|memory`, which runs `run_timing_worker` or
`run_memory_worker` here and prints one `RESULT {json}` line. Keras and the
backend are imported inside the functions for the same reason.
"""

import json
import os
import platform
import resource
import time


def build_model(impl, batch, steps, units, vocab, num_layers, unroll, dtype):
    import keras

    from zoo.layers import FusedLSTM, FusedLSTMCell
    from zoo.layers.factory import lstm_layer

    common = dict(unit_forget_bias=False)
    init = keras.initializers.RandomUniform(-0.1, 0.1, seed=0)
    inputs = keras.Input(batch_shape=(batch, steps), dtype="int32")
    x = keras.layers.Embedding(vocab, units, embeddings_initializer=init)(inputs)
    for i in range(num_layers if impl != "none" else 0):
        kw = dict(kernel_initializer=init, recurrent_initializer=init, **common)
        rnn_kw = dict(return_sequences=True, unroll=unroll, dtype=dtype, name=f"lstm_{i}")
        if impl == "fused_cell":
            layer = keras.layers.RNN(FusedLSTMCell(units, dtype=dtype, **kw), **rnn_kw)
        elif impl == "hoisted":
            layer = FusedLSTM(units, use_cudnn=False, **kw, **rnn_kw)
        elif impl == "fused-wd":
            layer = FusedLSTM(units, weight_dropout=0.5, **kw, **rnn_kw)
        else:  # gate, fused, keras: the layers the zoo's models build
            layer = lstm_layer(impl, units, **kw, **rnn_kw)
        x = layer(x)
    logits = keras.layers.Dense(vocab, kernel_initializer=init, dtype="float32")(x)
    return keras.Model(inputs, logits)


def device_info():
    import keras

    backend = keras.backend.backend()
    info = {"backend": backend, "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count()}
    if backend == "jax":
        import jax

        dev = jax.devices()[0]
        info.update(device=f"{dev.platform}:{getattr(dev, 'device_kind', '')}",
                    backend_version=f"jax {jax.__version__}")
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        info.update(device=f"gpu:{gpus[0].name}" if gpus else "cpu",
                    backend_version=f"tensorflow {tf.__version__}")
    elif backend == "torch":
        import torch

        info.update(device="cuda:" + torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                    backend_version=f"torch {torch.__version__}")
    return info


def device_peak_bytes():
    """Peak accelerator memory of this process, or None on CPU."""
    import keras

    try:
        if keras.backend.backend() == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform != "cpu":
                return int((dev.memory_stats() or {}).get("peak_bytes_in_use", 0)) or None
        elif keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
    except Exception:  # memory stats are best-effort
        return None
    return None


def _compiled_model(args, impl):
    import keras

    (batch, steps, units), = args.shape_map.values()
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    model = build_model(impl, batch, steps, units, args.vocab, args.layers,
                        args.unroll, args.dtype)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    return model


def _batches(args):
    import numpy as np

    (batch, steps, _), = args.shape_map.values()
    rng = np.random.default_rng(0)
    xs = rng.integers(0, args.vocab, size=(4, batch, steps), dtype="int32")
    ys = rng.integers(0, args.vocab, size=(4, batch, steps), dtype="int32")
    return list(zip(xs, ys))


def _train_steps(model, batches, n, start=0):
    """n training steps; returns (seconds, last loss)."""
    begin = time.perf_counter()
    loss = float("nan")
    for i in range(start, start + n):
        x, y = batches[i % len(batches)]
        loss = float(model.train_on_batch(x, y))
    return time.perf_counter() - begin, loss


def lstm_matmuls(batch, steps, units, num_layers, dtype="float32"):
    """A compiled function doing exactly the matmuls of the LSTM layers.

    Per layer and training step an LSTM needs the input projection
    `x @ W`, its input gradient `dz @ W.T`, the weight gradients
    `[x, h_prev].T @ dz`, and `2 * steps` small matmuls `h @ U` and
    `dz_t @ U.T` that form one dependent chain (each needs the previous
    one's result). Timing this function gives a floor for the LSTM part of a
    step on this machine: no implementation can take less without doing
    less arithmetic. Returns `(fn, args)`.
    """
    import numpy as np

    import keras
    from keras import ops

    rng = np.random.default_rng(0)
    n, g = batch * steps, 4 * units
    # Orthonormal rows: the chain y -> y @ U -> (y @ U) @ U.T keeps |y|.
    u_rows = np.linalg.qr(rng.normal(size=(g, units)))[0].T
    arrays = [rng.normal(size=(n, 2 * units)), rng.normal(size=(units, g)) / units,
              rng.normal(size=(n, g)), u_rows, rng.normal(size=(batch, units))]
    arrays = [ops.convert_to_tensor(a.astype("float32"), dtype=dtype) for a in arrays]

    def fn(xh, w, dz, u, h):
        total = 0.0
        u_t = ops.transpose(u)
        for _ in range(num_layers):
            total += ops.sum(ops.matmul(xh[:, :units], w))
            total += ops.sum(ops.matmul(dz, ops.transpose(w)))
            total += ops.sum(ops.matmul(ops.transpose(xh), dz))
            y = h
            for _ in range(steps):
                y = ops.matmul(ops.matmul(y, u), u_t)
            total += ops.sum(y)
        return total

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(fn)
    elif backend == "jax":
        import jax

        fn = jax.jit(fn)
    return fn, arrays


def run_timing_worker(args):
    """All impls in one process, timed in interleaved blocks.

    With the floor ("none" among the impls), the LSTM's bare matmuls
    (`lstm_matmuls`) run in the same rounds as a pseudo-impl "matmuls".
    """
    impls = list(args.worker_impls)
    batches = _batches(args)
    runners, rows = {}, {}
    for impl in impls:
        model = _compiled_model(args, impl)
        warmup_s, _ = _train_steps(model, batches, args.warmup)
        runners[impl] = (lambda start, m=model: _train_steps(m, batches, args.block, start))
        rows[impl] = {"impl": impl, "warmup_s": warmup_s, "block_seconds": [],
                      "jit_compile": bool(model.jit_compile),
                      "params": int(model.count_params())}
    if "none" in impls:
        import keras

        (batch, steps, units), = args.shape_map.values()
        dtype = keras.DTypePolicy(args.dtype).compute_dtype if args.dtype else "float32"
        fn, arrays = lstm_matmuls(batch, steps, units, args.layers, dtype)

        def run_matmuls(start):
            begin = time.perf_counter()
            for _ in range(args.block):
                value = float(fn(*arrays))
            return time.perf_counter() - begin, value

        for _ in range(max(args.warmup, 1)):
            run_matmuls(0)
        impls.append("matmuls")
        runners["matmuls"] = run_matmuls
        rows["matmuls"] = {"impl": "matmuls", "block_seconds": []}
    for r in range(args.rounds):
        k = r % len(impls)
        for impl in impls[k:] + impls[:k]:
            seconds, loss = runners[impl](args.warmup + r * args.block)
            rows[impl]["block_seconds"].append(seconds)
            rows[impl]["final_loss"] = loss
    print("RESULT " + json.dumps(rows), flush=True)


def run_memory_worker(args):
    """One impl alone: peak RSS / device bytes over warm-up and one block."""
    impl = args.worker_impls[0]
    model = _compiled_model(args, impl)
    _train_steps(model, _batches(args), args.warmup + args.block)
    print("RESULT " + json.dumps({
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "device_peak_bytes": device_peak_bytes(),
    }), flush=True)
