"""Sums over the parameters written so that XLA:CPU computes each term once.

PILOT's first pass reduces six element-wise terms over every parameter (the
agreement's three and the lookahead derivative's three) that share their
expensive parts: two logarithms and two exponentials per element. XLA:CPU
(jaxlib 0.10) has no multi-output reduction fusion, so it either recomputes
the shared parts once per sum, or writes them to memory as arrays of the
parameters' size: fresh allocations every step, whose page faults cost more
than the arithmetic. :func:`tree_sums` walks each leaf in chunks of
:data:`CHUNK` elements inside a loop, so the shared parts are written once per
chunk into small buffers that stay in cache and are reused by every chunk, and
all six sums come from one sweep over the parameters.

The terms are summed over whole leaves on other backends (GPU, TPU), where XLA
fuses sibling reductions with their shared producers by itself, and when the
process has several devices, where a chunk of a leaf sharded across devices
would be gathered onto each of them.

:func:`zero_after` orders an in-place write after the reads of the old value
(a donated state buffer would otherwise be copied first).
"""

from collections.abc import Callable, Sequence
from typing import Literal

import chex
import jax
import jax.numpy as jnp

# Elements per chunk on CPU: the shared intermediates of one chunk (about
# eight float32 arrays of 1 MiB) fit in the L2/L3 caches, and the loop runs few
# enough iterations (9 for ResNet-18's largest kernel, 2.4M elements) that its
# overhead is small. Measured against 2^15 to 2^20 (benchmarks/README.md).
CHUNK = 2**18

TermsFn = Callable[..., Sequence[chex.Array]]


def zero_after(x: chex.Array) -> chex.Array:
  """A float32 0 that XLA cannot fold away and that is computed after ``x``.

  ``x > inf`` is false for every x, nan included, so adding the result changes
  nothing (not even a nan), but it orders whatever uses it after ``x``.
  """
  return (jnp.asarray(x) > jnp.inf).astype(jnp.float32)


def default_chunk() -> int | None:
  """:data:`CHUNK` on a single CPU device, None (whole leaves) elsewhere (module doc)."""
  return CHUNK if jax.default_backend() == "cpu" and jax.device_count() == 1 else None


def _sum_terms(terms_fn: TermsFn, pieces: Sequence[chex.Array]) -> chex.Array:
  return jnp.stack([jnp.sum(term, dtype=term.dtype) for term in terms_fn(*pieces)])


def _leaf_sums(
  terms_fn: TermsFn, leaves: Sequence[chex.Array], chunk: int, total: chex.Array | None
) -> chex.Array:
  """``total`` plus Σ of each term over one leaf (``leaves`` share one shape), by chunks.

  The leaf's sums are computed after ``total``: only one leaf's chunk buffers
  are then alive at a time (XLA would otherwise interleave the leaves). The
  order is carried by data, never by slice indices, which vmap would batch.
  """
  flat = [x.reshape(-1) for x in leaves]
  size = flat[0].shape[0]
  if size <= chunk:
    if total is None:
      return _sum_terms(terms_fn, flat)
    zero = zero_after(total[0])
    return total + _sum_terms(terms_fn, [x + zero.astype(x.dtype) for x in flat])

  # XLA:CPU computes 16-bit floats in float32, slices included: a 16-bit leaf
  # would be converted whole before the loop. Sliced as 16-bit integers, only
  # a bit-for-bit copy of it is made (and each chunk is converted in the loop).
  words = [_as_words(x) for x in flat]

  def chunk_sums(offset, length):
    pieces = [jax.lax.dynamic_slice_in_dim(w, offset, length) for w in words]
    return _sum_terms(
      terms_fn, [_from_words(p, x.dtype) for p, x in zip(pieces, flat, strict=True)]
    )

  whole, rest = divmod(size, chunk)
  shape = jax.eval_shape(lambda: chunk_sums(0, chunk))
  if total is None:
    total = jnp.zeros(shape.shape, shape.dtype)
  else:
    total = total.astype(jnp.promote_types(total.dtype, shape.dtype))
  # The loop starts from ``total``, so it runs after it.
  total = jax.lax.fori_loop(0, whole, lambda i, acc: acc + chunk_sums(i * chunk, chunk), total)
  if rest:
    total = total + chunk_sums(whole * chunk, rest)
  return total


def _as_words(x: chex.Array) -> chex.Array:
  """A 16-bit float array as the unsigned integers of its bits; others as they are."""
  if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype.itemsize == 2:
    return jax.lax.bitcast_convert_type(x, jnp.uint16)
  return x


def _from_words(x: chex.Array, dtype) -> chex.Array:
  return x if x.dtype == dtype else jax.lax.bitcast_convert_type(x, dtype)


def tree_sums(
  terms_fn: TermsFn, *trees: chex.ArrayTree, chunk: int | None | Literal["auto"] = "auto"
) -> chex.Array:
  r"""Sums of element-wise terms over all leaves, every term computed in one sweep.

  .. math::

    s_k = \sum_{\text{leaves}} \sum_i \text{terms\_fn}(x^{(1)}_i, \dots, x^{(r)}_i)_k

  Args:
    terms_fn: maps same-shaped 1-D pieces of one leaf of each tree to a
      sequence of K arrays of that shape (the terms). It casts to the dtype it
      wants the sums in.
    *trees: pytrees of identical structure and leaf shapes.
    chunk: elements per piece; None sums whole leaves; ``"auto"`` is
      :func:`default_chunk`.

  Returns:
    The K sums, shape (K,), in the widest dtype of the terms.

  Example:
    >>> import jax.numpy as jnp
    >>> from pilot_optax._fusion import tree_sums
    >>> x = {"a": jnp.arange(5.0), "b": jnp.ones((2, 3))}
    >>> tree_sums(lambda u, w: [u * w, u * u], x, x, chunk=2)
    Array([36., 36.], dtype=float32)
  """
  if chunk == "auto":
    chunk = default_chunk()
  leaves = list(zip(*(jax.tree.leaves(tree) for tree in trees), strict=True))
  if not leaves:
    empty = [jax.ShapeDtypeStruct((0,), jnp.float32)] * len(trees)
    shape = jax.eval_shape(lambda *xs: _sum_terms(terms_fn, xs), *empty)
    return jnp.zeros(shape.shape, shape.dtype)
  if chunk is None:
    return sum(_sum_terms(terms_fn, [x.reshape(-1) for x in leaf]) for leaf in leaves)
  total = None
  for leaf in leaves:
    total = _leaf_sums(terms_fn, leaf, chunk, total)
  return total
