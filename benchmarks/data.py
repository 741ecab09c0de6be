"""Datasets for the paper's protocol: Fashion-MNIST and CIFAR-10.

Two sources, one result (uint8 NHWC images and int32 labels, train and test):
- local files in the datasets' original formats (`--data-dir`): Fashion-MNIST's
  four IDX `.gz` files (Debian's `dataset-fashion-mnist` puts them in
  /usr/share/datasets/fashion-mnist) and CIFAR-10's `cifar-10-batches-py` pickles;
- tensorflow-datasets, through `tfds.data_source`, which reads prepared data
  without TensorFlow (it needs the network, or a prepared `~/tensorflow_datasets`).

Normalisation and CIFAR-10's augmentation run on the accelerator inside the
training step (`benchmarks.seeds.preprocess`), so the host does no per-batch work.
"""

from __future__ import annotations

import dataclasses
import gzip
import pickle
import socket
import struct
from pathlib import Path

import numpy as np


class DataError(ValueError):
  """A dataset could not be read; the message names the file and what was expected."""


@dataclasses.dataclass(frozen=True)
class Dataset:
  name: str
  train_images: np.ndarray  # uint8 (N, H, W, C)
  train_labels: np.ndarray  # int32 (N,)
  test_images: np.ndarray
  test_labels: np.ndarray
  mean: tuple[float, ...]  # per channel, of images scaled to [0, 1]
  std: tuple[float, ...]
  augment: bool  # random crop (pad 4) and horizontal flip while training
  num_classes: int = 10


NORMALISATION = {
  "fashionmnist": ((0.2860,), (0.3530,)),
  "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
TFDS_NAMES = {"fashionmnist": "fashion_mnist", "cifar10": "cifar10"}
FASHION_MNIST_FILES = {
  "train_images": "train-images-idx3-ubyte.gz",
  "train_labels": "train-labels-idx1-ubyte.gz",
  "test_images": "t10k-images-idx3-ubyte.gz",
  "test_labels": "t10k-labels-idx1-ubyte.gz",
}
_IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # unsigned bytes; 1-d labels, 3-d images
CIFAR_DIRNAME = "cifar-10-batches-py"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"


def read_idx(path: Path, ndim: int) -> np.ndarray:
  """Reads one IDX file (gzipped or not) of unsigned bytes with `ndim` dimensions."""
  if not path.is_file():
    raise DataError(f"{path}: file not found (expected an IDX file with {ndim} dimension(s)).")
  opener = gzip.open if path.suffix == ".gz" else open
  try:
    with opener(path, "rb") as f:
      raw = f.read()
  except (OSError, EOFError) as e:
    raise DataError(
      f"{path}: cannot be read as {'gzip' if opener is gzip.open else 'a file'}: {e}"
    ) from e
  header = 4 + 4 * ndim
  if len(raw) < header:
    raise DataError(f"{path}: {len(raw)} bytes, shorter than an IDX header ({header} bytes).")
  (magic,) = struct.unpack(">I", raw[:4])
  if magic != _IDX_MAGIC[ndim]:
    raise DataError(
      f"{path}: IDX magic number {magic:#010x}, expected {_IDX_MAGIC[ndim]:#010x} (ubyte, {ndim}-d)."
    )
  shape = struct.unpack(f">{ndim}I", raw[4:header])
  count = int(np.prod(shape))
  if len(raw) - header != count:
    raise DataError(
      f"{path}: header says shape {shape} ({count} bytes), the file holds {len(raw) - header}."
    )
  return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_fashion_mnist_dir(data_dir: Path) -> Dataset:
  """Fashion-MNIST from its four original IDX `.gz` files in `data_dir`."""
  data_dir = Path(data_dir)
  arrays = {}
  for key, filename in FASHION_MNIST_FILES.items():
    arrays[key] = read_idx(data_dir / filename, ndim=3 if key.endswith("images") else 1)
  for split in ("train", "test"):
    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    if images.shape[1:] != (28, 28):
      raise DataError(
        f"{data_dir / FASHION_MNIST_FILES[f'{split}_images']}: images are {images.shape[1:]}, expected (28, 28)."
      )
    if len(images) != len(labels):
      raise DataError(
        f"{data_dir}: {split} split has {len(images)} images but {len(labels)} labels."
      )
    if labels.size and labels.max() > 9:
      raise DataError(
        f"{data_dir / FASHION_MNIST_FILES[f'{split}_labels']}: label {labels.max()} outside 0..9."
      )
  return _make(
    "fashionmnist", {k: v[..., None] if k.endswith("images") else v for k, v in arrays.items()}
  )


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
  if not path.is_file():
    raise DataError(f"{path}: file not found (expected a CIFAR-10 python batch, a pickle).")
  try:
    with open(path, "rb") as f:
      batch = pickle.load(f, encoding="bytes")
  except Exception as e:  # noqa: BLE001 - any unpickling failure is a malformed file
    raise DataError(f"{path}: not a CIFAR-10 python batch (unpickling failed: {e}).") from e
  if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
    keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
    raise DataError(f"{path}: expected a dict with keys b'data' and b'labels', found {keys}.")
  data = np.asarray(batch[b"data"])
  labels = np.asarray(batch[b"labels"], np.int64)
  if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
    raise DataError(f"{path}: b'data' is {data.dtype} {data.shape}, expected uint8 (N, 3072).")
  if len(data) != len(labels):
    raise DataError(f"{path}: {len(data)} images but {len(labels)} labels.")
  if labels.size and (labels.min() < 0 or labels.max() > 9):
    raise DataError(f"{path}: labels outside 0..9.")
  # Rows are channel-major (1024 red, 1024 green, 1024 blue): to NHWC.
  return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar10_dir(data_dir: Path) -> Dataset:
  """CIFAR-10 from `cifar-10-batches-py` (the folder itself or its parent)."""
  data_dir = Path(data_dir)
  if (data_dir / CIFAR_DIRNAME).is_dir():
    data_dir = data_dir / CIFAR_DIRNAME
  train = [_read_cifar_batch(data_dir / name) for name in CIFAR_TRAIN_BATCHES]
  test_images, test_labels = _read_cifar_batch(data_dir / CIFAR_TEST_BATCH)
  arrays = {
    "train_images": np.concatenate([b[0] for b in train]),
    "train_labels": np.concatenate([b[1] for b in train]),
    "test_images": test_images,
    "test_labels": test_labels,
  }
  return _make("cifar10", arrays)


def load_tfds(name: str, tfds_data_dir: str | None = None) -> Dataset:
  """Loads through `tfds.data_source` (array_record; no TensorFlow needed)."""
  import tensorflow_datasets as tfds  # optional dependency: the [bench] extra

  tfds_name = TFDS_NAMES[name]
  arrays = {}
  try:
    for split in ("train", "test"):
      source = _tfds_source(tfds, tfds_name, split, tfds_data_dir)
      examples = [source[i] for i in range(len(source))]
      arrays[f"{split}_images"] = np.stack([np.asarray(e["image"], np.uint8) for e in examples])
      arrays[f"{split}_labels"] = np.asarray([e["label"] for e in examples])
  except Exception as e:  # noqa: BLE001 - tfds raises many kinds when it cannot download
    hint = {
      "fashionmnist": "the four IDX .gz files (on Debian: apt-get install dataset-fashion-mnist, then "
      "--data-dir /usr/share/datasets/fashion-mnist)",
      "cifar10": "the extracted cifar-10-python.tar.gz (the folder cifar-10-batches-py or its parent)",
    }[name]
    raise DataError(
      f"could not load {tfds_name!r} through tensorflow-datasets ({type(e).__name__}: {e}). "
      "It downloads and prepares the data on first use, which needs the network. "
      f"Without it, pass --data-dir with {hint}."
    ) from e
  return _make(name, arrays)


def _tfds_source(tfds, tfds_name: str, split: str, data_dir: str | None):
  try:  # prepared already (or mocked in tests): no network needed
    return tfds.data_source(tfds_name, split=split, data_dir=data_dir, download=False)
  except Exception:  # noqa: BLE001 - tfds raises several kinds for "not prepared"
    if not _network_reachable():
      # Fail at once: tfds would spend minutes retrying the download.
      raise ConnectionError(
        "the dataset is not prepared locally and the network is unreachable"
      ) from None
    return tfds.data_source(tfds_name, split=split, data_dir=data_dir, download=True)


def _network_reachable(host: str = "storage.googleapis.com", timeout: float = 5.0) -> bool:
  try:
    socket.create_connection((host, 443), timeout=timeout).close()
  except OSError:
    return False
  return True


def load_dataset(name: str, data_dir: str | Path | None = None) -> Dataset:
  """`name` in {'fashionmnist', 'cifar10'}; local original files when `data_dir` is given."""
  if name not in NORMALISATION:
    raise DataError(f"unknown dataset {name!r}; choose from {sorted(NORMALISATION)}.")
  if data_dir is None:
    return load_tfds(name)
  if not Path(data_dir).is_dir():
    raise DataError(f"--data-dir {data_dir}: not a directory.")
  return load_fashion_mnist_dir(data_dir) if name == "fashionmnist" else load_cifar10_dir(data_dir)


def _make(name: str, arrays: dict[str, np.ndarray]) -> Dataset:
  mean, std = NORMALISATION[name]
  return Dataset(
    name=name,
    train_images=np.ascontiguousarray(arrays["train_images"], np.uint8),
    train_labels=np.asarray(arrays["train_labels"], np.int32),
    test_images=np.ascontiguousarray(arrays["test_images"], np.uint8),
    test_labels=np.asarray(arrays["test_labels"], np.int32),
    mean=mean,
    std=std,
    augment=name == "cifar10",
  )
