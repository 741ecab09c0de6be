"""Models of the paper's protocol, in Flax NNX.

- `SmallCNN` ("cnn"): the paper does not publish its SmallCNN. Ours is two 3x3
  convolution blocks (32 and 64 channels, each ReLU then 2x2 max-pool) and a
  256-unit hidden layer: 0.82M parameters on Fashion-MNIST. Calibrated so that
  Adam under the protocol lands near the paper's Adam accuracy (docs/evidence/images.md,
  "SmallCNN calibration").
- `ResNet18` ("resnet18"): the CIFAR variant (3x3 stem convolution, stride 1, no
  max-pool), BasicBlocks in four stages of two, BatchNorm, global average pool.
- `ByteTransformer` ("transformer"): a decoder-only transformer over UTF-8 bytes (vocabulary
  256) for the language-model workload (`benchmarks.workloads.TextWorkload`): byte embedding
  plus learned positions, pre-LayerNorm blocks (causal self-attention, then a GELU MLP of 4x the
  width, each added to the residual stream), a final LayerNorm and a linear head.

`dtype` is the compute dtype (bfloat16 for mixed precision); params stay float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class SmallCNN(nnx.Module):
  def __init__(
    self, in_channels: int, num_classes: int, image_size: int, *, dtype=jnp.float32, rngs: nnx.Rngs
  ):
    conv = dict(kernel_size=(3, 3), padding="SAME", dtype=dtype, rngs=rngs)
    self.conv1 = nnx.Conv(in_channels, 32, **conv)
    self.conv2 = nnx.Conv(32, 64, **conv)
    flat = 64 * (image_size // 4) ** 2
    self.hidden = nnx.Linear(flat, 256, dtype=dtype, rngs=rngs)
    self.head = nnx.Linear(256, num_classes, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    for conv in (self.conv1, self.conv2):
      x = nnx.max_pool(jax.nn.relu(conv(x)), (2, 2), strides=(2, 2))
    x = jax.nn.relu(self.hidden(x.reshape(x.shape[0], -1)))
    return self.head(x)


class BasicBlock(nnx.Module):
  """Two 3x3 convolutions with BatchNorm, and a projected shortcut when the shape changes."""

  def __init__(self, in_channels: int, channels: int, stride: int, *, dtype, rngs: nnx.Rngs):
    conv = dict(kernel_size=(3, 3), padding="SAME", use_bias=False, dtype=dtype, rngs=rngs)
    norm = dict(momentum=0.9, dtype=dtype, rngs=rngs)
    self.conv1 = nnx.Conv(in_channels, channels, strides=(stride, stride), **conv)
    self.bn1 = nnx.BatchNorm(channels, **norm)
    self.conv2 = nnx.Conv(channels, channels, **conv)
    self.bn2 = nnx.BatchNorm(channels, **norm)
    self.project = stride != 1 or in_channels != channels
    if self.project:
      self.shortcut = nnx.Conv(
        in_channels,
        channels,
        kernel_size=(1, 1),
        strides=(stride, stride),
        use_bias=False,
        dtype=dtype,
        rngs=rngs,
      )
      self.shortcut_bn = nnx.BatchNorm(channels, **norm)

  def __call__(self, x):
    y = jax.nn.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    residual = self.shortcut_bn(self.shortcut(x)) if self.project else x
    return jax.nn.relu(y + residual)


class ResNet18(nnx.Module):
  STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))  # (channels, stride of the first block)

  def __init__(
    self,
    in_channels: int,
    num_classes: int,
    image_size: int = 32,
    *,
    dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    del image_size  # global pooling: any size works
    self.stem = nnx.Conv(
      in_channels, 64, kernel_size=(3, 3), padding="SAME", use_bias=False, dtype=dtype, rngs=rngs
    )
    self.stem_bn = nnx.BatchNorm(64, momentum=0.9, dtype=dtype, rngs=rngs)
    blocks, width = [], 64
    for channels, stride in self.STAGES:
      blocks.append(BasicBlock(width, channels, stride, dtype=dtype, rngs=rngs))
      blocks.append(BasicBlock(channels, channels, 1, dtype=dtype, rngs=rngs))
      width = channels
    self.blocks = nnx.List(blocks)
    self.head = nnx.Linear(width, num_classes, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    x = jax.nn.relu(self.stem_bn(self.stem(x)))
    for block in self.blocks:
      x = block(x)
    return self.head(jnp.mean(x, axis=(1, 2)))


class CausalSelfAttention(nnx.Module):
  """Multi-head self-attention in which position t attends to positions <= t only."""

  def __init__(self, width: int, heads: int, *, dtype, rngs: nnx.Rngs):
    if width % heads:
      raise ValueError(f"width {width} must be a multiple of heads {heads}.")
    self.heads = heads
    self.qkv = nnx.Linear(width, 3 * width, dtype=dtype, rngs=rngs)
    self.out = nnx.Linear(width, width, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    b, t, w = x.shape
    q, k, v = jnp.split(self.qkv(x).reshape(b, t, 3 * self.heads, w // self.heads), 3, axis=2)
    causal = jnp.tril(jnp.ones((t, t), bool))
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) / jnp.sqrt(w // self.heads)
    weights = jax.nn.softmax(jnp.where(causal, logits, -jnp.inf), axis=-1).astype(v.dtype)
    return self.out(jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, w))


class TransformerBlock(nnx.Module):
  """x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) (pre-LayerNorm)."""

  def __init__(self, width: int, heads: int, *, dtype, rngs: nnx.Rngs):
    self.norm1 = nnx.LayerNorm(width, dtype=dtype, rngs=rngs)
    self.attention = CausalSelfAttention(width, heads, dtype=dtype, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, dtype=dtype, rngs=rngs)
    self.up = nnx.Linear(width, 4 * width, dtype=dtype, rngs=rngs)
    self.down = nnx.Linear(4 * width, width, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    x = x + self.attention(self.norm1(x))
    return x + self.down(jax.nn.gelu(self.up(self.norm2(x))))


class ByteTransformer(nnx.Module):
  """Next-byte logits (B, T, 256) of byte sequences (B, T), T <= ``context``."""

  VOCABULARY = 256

  def __init__(
    self, context: int, width: int, depth: int, heads: int, *, dtype=jnp.float32, rngs: nnx.Rngs
  ):
    self.embed = nnx.Embed(self.VOCABULARY, width, dtype=dtype, rngs=rngs)
    self.positions = nnx.Param(0.02 * jax.random.normal(rngs.params(), (context, width)))
    self.blocks = nnx.List(
      [TransformerBlock(width, heads, dtype=dtype, rngs=rngs) for _ in range(depth)]
    )
    self.norm = nnx.LayerNorm(width, dtype=dtype, rngs=rngs)
    self.head = nnx.Linear(width, self.VOCABULARY, dtype=dtype, rngs=rngs)

  def __call__(self, tokens):
    x = self.embed(tokens) + self.positions[: tokens.shape[1]].astype(self.embed.dtype)
    for block in self.blocks:
      x = block(x)
    return self.head(self.norm(x))


def decayed(params) -> object:
  """The weight-decay mask of the workloads: True for matrices (kernels, the embedding, the
  positions), False for vectors (biases, LayerNorm scales and offsets)."""
  return jax.tree.map(lambda x: x.ndim >= 2, params)


ARCHITECTURES = {"cnn": SmallCNN, "resnet18": ResNet18}


def build_model(
  arch: str,
  in_channels: int,
  num_classes: int,
  image_size: int,
  *,
  dtype=jnp.float32,
  seed: int = 0,
):
  if arch not in ARCHITECTURES:
    raise ValueError(f"unknown arch {arch!r}; choose from {sorted(ARCHITECTURES)}.")
  return ARCHITECTURES[arch](in_channels, num_classes, image_size, dtype=dtype, rngs=nnx.Rngs(seed))
