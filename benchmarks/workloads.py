"""What differs between the benchmark's workloads, behind one small interface.

One training loop (`benchmarks.train`) and one seed-vmapped step (`benchmarks.seeds`) serve every
workload; a workload says only what is its own, after AlgoPerf's ``Workload`` (Dahl et al. 2023,
arXiv:2306.07179: initialise the model, apply it, the loss, evaluate):

- the model (:meth:`Workload.build_model`);
- the data on the device and how a step's batch is cut from it inside the jitted step
  (:meth:`Workload.train_batch`), and the evaluation sets and their batches
  (:meth:`Workload.eval_batch`);
- the schedule of a run: ``rounds`` of ``steps_per_round`` steps, each round followed by an
  evaluation and a checkpoint; the batch order of a round (:meth:`Workload.round_orders`), drawn
  from each seed's own generator, so that a seed fixes the batch order for every optimizer;
- what a round is called in the records and the metrics derived from the mean loss.

The loss is the mean cross-entropy of integer targets for both: of the label of an image, or of
every next byte of a text window.

- :class:`ImageWorkload`: the paper's image classification; a round is an epoch (a fresh
  permutation of the training images), evaluation on the whole test split.
- :class:`TextWorkload`: next-byte prediction on a text corpus (`benchmarks.text`); a step takes
  ``batch_size`` windows of ``context + 1`` bytes at random offsets of the training text; a round
  is ``eval_every`` steps; evaluation on fixed windows (the same for every run): the first
  ``valid_bytes`` of the validation books, and a quarter as many bytes of training text at evenly
  spaced offsets (the train–validation gap). Losses are also reported in bits per byte.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from benchmarks.data import Dataset
from benchmarks.models import ByteTransformer, build_model, decayed
from benchmarks.seeds import epoch_orders, preprocess
from benchmarks.sizes import TransformerSize
from benchmarks.text import Corpus

WARMUP_EPOCHS = {"cnn": 0, "resnet18": 3}


class Workload:
  """The interface: every attribute and method below is what the loop and the step use."""

  dataset: str  # the data's name (first part of a run's file name)
  arch: str  # the model's name
  batch_size: int
  rounds: int  # a run is `rounds` rounds of `steps_per_round` steps
  steps_per_round: int
  warmup_steps: int
  round_key: str  # what a round is called in a record's history ("epoch" or "step")
  eval_sets: tuple[str, ...]  # the names of the evaluation sets; the first is the validation
  decay_mask = None  # the optimizers' weight-decay mask (None: every parameter is decayed)

  def build_model(self, seed: int, dtype) -> nnx.Module:
    raise NotImplementedError

  def train_arrays(self) -> tuple:
    """Host arrays the train step cuts its batches from (copied to the devices once)."""
    raise NotImplementedError

  def train_batch(self, arrays, indices, key, dtype):
    """(inputs, integer targets) of one step's batch (``indices``: one row of an order)."""
    raise NotImplementedError

  def eval_arrays(self, name: str) -> tuple:
    raise NotImplementedError

  def eval_slices(self, name: str) -> list[tuple[int, int]]:
    """(start, size) of each evaluation batch of set ``name``."""
    raise NotImplementedError

  def eval_batch(self, arrays, start, size: int, dtype):
    raise NotImplementedError

  def round_orders(self, shuffles: list[np.random.Generator]) -> np.ndarray:
    """The next round's batches of every seed, (S, steps_per_round, batch_size) int32."""
    raise NotImplementedError

  def round_value(self, round_index: int) -> int:
    """The value of ``round_key`` after round ``round_index`` (1-based)."""
    raise NotImplementedError

  def metrics(self, name: str, mean_loss: float, accuracy: float) -> dict[str, float]:
    """The history's numbers of evaluation set ``name``."""
    raise NotImplementedError

  def summary(self, entry: dict, seconds: float, num_seeds: int) -> str:
    """A history entry's training loss, evaluation and the round's throughput, for the progress
    line, every loss in the unit its evaluation uses."""
    raise NotImplementedError

  @property
  def total_steps(self) -> int:
    return self.rounds * self.steps_per_round

  def setup(self) -> dict:
    """What defines a run besides the optimizer and the seed (checked before reusing one)."""
    raise NotImplementedError

  def settings(self) -> dict:
    """What a result JSON says about the protocol (its ``hyperparameters``)."""
    raise NotImplementedError


def _check_devices(batch_size: int) -> None:
  if batch_size % jax.device_count():
    raise ValueError(f"batch size {batch_size} does not split over {jax.device_count()} devices.")


class ImageWorkload(Workload):
  """The paper's protocol: an image classifier, trained by epochs, evaluated on the test split."""

  round_key = "epoch"
  eval_sets = ("val",)

  def __init__(self, data: Dataset, arch: str, epochs: int, batch_size: int):
    self.data, self.dataset, self.arch = data, data.name, arch
    self.batch_size, self.rounds = batch_size, epochs
    self.steps_per_round = len(data.train_labels) // batch_size
    if self.steps_per_round == 0:
      raise ValueError(
        f"batch size {batch_size} exceeds the {len(data.train_labels)} training examples."
      )
    _check_devices(batch_size)
    # Runs shorter than the warm-up (smoke tests) warm up over their first half.
    self.warmup_steps = min(WARMUP_EPOCHS[arch] * self.steps_per_round, self.total_steps // 2)

  def build_model(self, seed, dtype):
    _, h, _, c = self.data.train_images.shape
    return build_model(self.arch, c, self.data.num_classes, h, dtype=dtype, seed=seed)

  def train_arrays(self):
    return self.data.train_images, self.data.train_labels

  def train_batch(self, arrays, indices, key, dtype):
    images, labels = arrays
    return preprocess(images[indices], self.data, key, True, dtype), labels[indices]

  def eval_arrays(self, name):
    return self.data.test_images, self.data.test_labels

  def eval_slices(self, name, batch: int = 1000):
    count = len(self.data.test_labels)
    return [(start, min(batch, count - start)) for start in range(0, count, batch)]

  def eval_batch(self, arrays, start, size, dtype):
    images = jax.lax.dynamic_slice_in_dim(arrays[0], start, size)
    labels = jax.lax.dynamic_slice_in_dim(arrays[1], start, size)
    return preprocess(images, self.data, None, False, dtype), labels

  def round_orders(self, shuffles):
    count = len(self.data.train_labels)
    return epoch_orders(shuffles, count, self.steps_per_round, self.batch_size)

  def round_value(self, round_index):
    return round_index

  def metrics(self, name, mean_loss, accuracy):
    return {f"{name}_loss": mean_loss, f"{name}_accuracy": accuracy}

  def summary(self, entry, seconds, num_seeds):
    images = num_seeds * self.steps_per_round * self.batch_size
    return (f"train loss {entry['train_loss']:.4f}  val loss {entry['val_loss']:.4f}  val acc {100 * entry['val_accuracy']:.2f}%  "
            f"{seconds:.1f}s ({images / seconds:.0f} img/s)")  # fmt: skip

  def setup(self):
    return dict(epochs=self.rounds, train_size=len(self.data.train_labels),
                batch_size=self.batch_size)  # fmt: skip

  def settings(self):
    warm = WARMUP_EPOCHS[self.arch]
    return dict(
      batch_size=self.batch_size,
      schedule="cosine decay per step" + (", linear warm-up" if warm else ""),
      warmup_epochs=warm,
      warmup_steps=self.warmup_steps,
      train_size=len(self.data.train_labels),
    )


class TextWorkload(Workload):
  """Next-byte prediction: a byte transformer on a corpus, by steps, evaluated every round."""

  round_key = "step"
  eval_sets = ("val", "train_slice")
  decay_mask = staticmethod(decayed)
  WARMUP_FRACTION = 0.05

  def __init__(
    self,
    corpus: Corpus,
    steps: int,
    eval_every: int,
    batch_size: int,
    size: TransformerSize = TransformerSize(),
    valid_bytes: int = 262_144,
  ):
    if steps % eval_every:
      raise ValueError(f"--steps {steps} must be a multiple of --eval-every {eval_every}.")
    _check_devices(batch_size)
    self.corpus, self.size, self.dataset, self.arch = corpus, size, corpus.name, "transformer"
    self.batch_size, self.steps_per_round, self.rounds = batch_size, eval_every, steps // eval_every
    self.warmup_steps = int(self.WARMUP_FRACTION * steps)
    window = size.context + 1
    if len(corpus.train) < 2 * window or len(corpus.valid) < window:
      raise ValueError(f"the corpus is too short for windows of {window} bytes.")
    self.valid_windows = _windows(corpus.valid, size.context, valid_bytes)
    # A quarter as many training bytes (the gap needs less precision than the score), spread
    # evenly over the training text.
    count = max(1, len(self.valid_windows) // 4)
    starts = np.linspace(0, len(corpus.train) - window, count).astype(np.int64)
    self.train_windows = np.stack([corpus.train[s : s + window] for s in starts])

  def build_model(self, seed, dtype):
    s = self.size
    return ByteTransformer(s.context, s.width, s.depth, s.heads, dtype=dtype, rngs=nnx.Rngs(seed))

  def train_arrays(self):
    return (self.corpus.train,)

  def train_batch(self, arrays, indices, key, dtype):
    del key, dtype  # no augmentation; tokens are integers
    window = self.size.context + 1
    take = jax.vmap(lambda start: jax.lax.dynamic_slice_in_dim(arrays[0], start, window))
    tokens = take(indices).astype(jnp.int32)
    return tokens[:, :-1], tokens[:, 1:]

  def eval_arrays(self, name):
    return (self.valid_windows if name == "val" else self.train_windows,)

  def eval_slices(self, name, batch: int = 256):
    count = len(self.eval_arrays(name)[0])
    return [(start, min(batch, count - start)) for start in range(0, count, batch)]

  def eval_batch(self, arrays, start, size, dtype):
    tokens = jax.lax.dynamic_slice_in_dim(arrays[0], start, size).astype(jnp.int32)
    return tokens[:, :-1], tokens[:, 1:]

  def round_orders(self, shuffles):
    high = len(self.corpus.train) - self.size.context  # a window's last byte must exist
    shape = (self.steps_per_round, self.batch_size)
    return np.stack([rng.integers(0, high, shape) for rng in shuffles]).astype(np.int32)

  def round_value(self, round_index):
    return round_index * self.steps_per_round

  def metrics(self, name, mean_loss, accuracy):
    return {
      f"{name}_loss": mean_loss,
      f"{name}_bpb": mean_loss / math.log(2),
      f"{name}_accuracy": accuracy,
    }

  def summary(self, entry, seconds, num_seeds):
    tokens = num_seeds * self.steps_per_round * self.batch_size * self.size.context
    train_bpb = entry["train_loss"] / math.log(2)  # the loss is in nats, evaluations in bits
    return (f"train {train_bpb:.4f} bpb  val {entry['val_bpb']:.4f} bpb  train slice {entry['train_slice_bpb']:.4f} bpb  "
            f"{seconds:.1f}s ({tokens / seconds:.0f} bytes/s)")  # fmt: skip

  def setup(self):
    return dict(
      steps=self.total_steps, eval_every=self.steps_per_round, batch_size=self.batch_size,
      train_size=len(self.corpus.train), valid_bytes=int(self.valid_windows[:, 1:].size),
      **dataclasses.asdict(self.size),
    )  # fmt: skip

  def settings(self):
    return self.setup() | dict(
      schedule="linear warm-up, then cosine decay to 0, per step",
      warmup_steps=self.warmup_steps,
      valid_books=list(self.corpus.valid_books),
      bytes_seen=self.total_steps * self.batch_size * self.size.context,
      weight_decay_applies_to="matrices only (kernels, embedding, positions); "
      "not biases or LayerNorm parameters",
    )


def _windows(text: np.ndarray, context: int, max_bytes: int) -> np.ndarray:
  """Consecutive windows of ``context + 1`` bytes overlapping by one (each predicts ``context``
  new bytes), covering the first ``max_bytes`` predicted bytes of ``text`` or all of it."""
  count = min(max_bytes // context, (len(text) - 1) // context)
  return np.stack([text[k * context : k * context + context + 1] for k in range(count)])
