"""The paper's protocol in JAX (data, models, optimizers, training, tables) and speed benchmarks."""
