"""The XLA:CPU machinery of PILOT's step, behind four names: `sweep` (over `tree_sums`), `spread`, `after`.

Everything here is an optimisation; the algorithm is the same without it.

**Why a chunked sweep.** PILOT's first pass reduces over every parameter
several quantities (the agreement's three sums and the lookahead's gradient
with respect to the knobs) that share their expensive parts: two logarithms
and two exponentials per element. XLA:CPU (jaxlib 0.10) has no multi-output
reduction fusion, so over whole leaves it either recomputes the shared parts
once per sum, or writes them to memory as arrays of the parameters' size:
fresh allocations every step, whose page faults cost more than the arithmetic.
:func:`tree_sums` walks each leaf in chunks of :data:`CHUNK` elements inside a
loop; a chunk's intermediates (its forward values and, for a gradient, its
backward pass) stay in cache and their buffers are reused by every chunk, and
all the sums come from one sweep over the parameters. The sums must be
additive over pieces, as sums and gradients of sums are.

**16-bit leaves.** XLA:CPU computes 16-bit floats in float32, slices included:
a 16-bit leaf would be converted whole before the loop. Sliced as 16-bit
integers (its bits), only a bit-for-bit copy of it is made, and each chunk is
converted inside the loop.

**Order without indices.** Leaves are summed one after the other (only one
leaf's chunk buffers are alive at a time), an order carried by data (a zero
computed from the running total), never by slice indices, which ``vmap`` over
the optimizer would turn into gathers.

**Elsewhere.** On GPU and TPU, where XLA fuses sibling reductions with their
shared producers by itself, and when the process has several devices, where a
chunk of a leaf sharded across devices would be gathered onto each of them,
the sums are taken over whole leaves.

**The knobs' gradient.** ``jax.grad`` of a piece's lookahead with respect to
a scalar knob ends in the transpose of broadcasting the knob over the piece: a
sum of a per-element cotangent. XLA:CPU hands a plain sum, with the
element-wise work that feeds it, to YNNPACK, one reduction per knob, and the
values the three knobs' cotangents share are then stored and read again by
each of them (a step 13-22% slower at 11.2M parameters). The knobs
enter the piece through :func:`spread`, a broadcast whose transpose is the same
sum written so that YNNPACK does not take it: XLA then computes the three
cotangents in fused loops that share their inputs and sums each with a tree of
small reductions.

**In-place writes.** The step overwrites m, v and g_{t-1} (donated buffers)
after the first pass has read them. XLA does not see that the reads come
first and would copy all three; :func:`after` makes the writes depend on the
first pass's result.
"""

import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import chex
import jax
import jax.numpy as jnp

# Elements per chunk on CPU: the intermediates of one chunk (about eight
# float32 arrays of 1 MiB) fit in the L2/L3 caches, and the loop runs few
# enough iterations (9 for ResNet-18's largest kernel, 2.4M elements) that its
# overhead is small. Measured against 2^15 to 2^20 (docs/evidence/cost.md).
CHUNK = 2**18

# Maps same-shaped 1-D pieces (one of each tree) to K partial sums, shape (K,).
PieceSumsFn = Callable[..., chex.Array]


def _zero_after(x: chex.Array) -> chex.Array:
  """A 0 that XLA cannot fold away and that is computed after ``x``.

  ``x > inf`` is false for every x, nan included, so adding the result changes
  nothing (not even a nan), but it orders whatever uses it after ``x``. In the
  default float dtype (float64 under x64: 0.9 + a float32 zero would round b1).
  """
  return (jnp.asarray(x) > jnp.inf).astype(jax.dtypes.canonicalize_dtype(jnp.float64))


def after(dependency: chex.Array, *values: chex.Numeric | chex.ArrayTree) -> tuple[Any, ...]:
  """``values`` unchanged, but available only once ``dependency`` is computed.

  The step makes the new m, v and g_{t-1} from values that come through here
  with the result of the sweep as ``dependency``: their writes then come after
  the sweep's reads, and XLA updates the donated buffers in place instead of
  copying them first (module docstring). Exact: a scalar gets a zero added, an
  array (or each array of a tree) is multiplied by one, and that zero is 0 even
  when ``dependency`` is nan or inf.
  """
  zero = _zero_after(dependency)

  def ordered(value):
    if isinstance(value, int | float):
      return value + zero
    return jax.tree.map(lambda x: x * (1 + zero).astype(jnp.result_type(x)), value)

  return tuple(ordered(value) for value in values)


def _sum_outside_ynnpack(x: chex.Array) -> chex.Array:
  """The sum of all elements of ``x``, as a reduction that YNNPACK does not take.

  ``a - (-b)`` is ``a + b`` exactly (negation is exact), but it is not the
  addition that XLA:CPU gives to YNNPACK (module docstring).
  """
  return jax.lax.reduce(x, jnp.zeros([], x.dtype), lambda a, b: a - (-b), tuple(range(x.ndim)))


def spread(x: chex.Array, shape: tuple[int, ...]) -> chex.Array:
  """The scalar ``x`` spread over a piece of ``shape``, for differentiating with respect to ``x``.

  Its value and derivative are those of ``x`` broadcast to ``shape``: the
  transpose of a broadcast is the sum of the cotangent. On one CPU device that
  sum is one YNNPACK does not take (module docstring). Elsewhere ``x`` itself,
  which broadcasts where it is used: GPUs fuse the plain sum well, and a
  sharded sum must be one that XLA's partitioner knows how to split.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from pilot_optax._fusion import spread
    >>> w = jnp.arange(4.0)
    >>> jax.grad(lambda x: jnp.sum(w * spread(x, w.shape) ** 2))(3.0)
    Array(36., dtype=float32)
  """
  if default_chunk() is None:
    return x
  return _broadcast_summed_outside_ynnpack(x, shape)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _broadcast_summed_outside_ynnpack(x: chex.Array, shape: tuple[int, ...]) -> chex.Array:
  return jnp.broadcast_to(x, shape)


def _broadcast_forward(x, shape):
  return _broadcast_summed_outside_ynnpack(x, shape), None


def _broadcast_backward(shape, _, cotangent):
  del shape
  return (_sum_outside_ynnpack(cotangent),)


_broadcast_summed_outside_ynnpack.defvjp(_broadcast_forward, _broadcast_backward)


def default_chunk() -> int | None:
  """:data:`CHUNK` on a single CPU device, None (whole leaves) elsewhere."""
  return CHUNK if jax.default_backend() == "cpu" and jax.device_count() == 1 else None


def _leaf_sums(
  piece_sums: PieceSumsFn, leaves: Sequence[chex.Array], chunk: int, total: chex.Array | None
) -> chex.Array:
  """``total`` plus the sums over one leaf (``leaves`` share one shape), by chunks."""
  flat = [x.reshape(-1) for x in leaves]
  size = flat[0].shape[0]
  if size <= chunk:
    if total is None:
      return piece_sums(*flat)
    zero = _zero_after(total[0])
    return total + piece_sums(*[x + zero.astype(x.dtype) for x in flat])

  words = [_as_words(x) for x in flat]

  def chunk_sums(offset, length):
    pieces = [jax.lax.dynamic_slice_in_dim(w, offset, length) for w in words]
    return piece_sums(*[_from_words(p, x.dtype) for p, x in zip(pieces, flat, strict=True)])

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
  piece_sums: PieceSumsFn, *trees: chex.ArrayTree, chunk: int | None | Literal["auto"] = "auto"
) -> chex.Array:
  r"""Sums over all parameters of quantities additive over pieces, in one sweep.

  With the parameters cut into pieces P (whole leaves, or chunks of them),

  .. math::

    s = \sum_{P} \text{piece\_sums}(x^{(1)}_P, \dots, x^{(r)}_P),

  which is the same for every cutting when ``piece_sums`` is a sum over the
  elements of its pieces (or the gradient of one).

  Args:
    piece_sums: maps same-shaped 1-D pieces of one leaf of each tree to the K
      sums over that piece, shape (K,). It casts to the dtype it wants the
      sums in.
    *trees: pytrees of identical structure and leaf shapes.
    chunk: elements per piece; None sums whole leaves; ``"auto"`` is
      :func:`default_chunk`.

  Returns:
    The K sums, shape (K,).

  Example:
    >>> import jax.numpy as jnp
    >>> from pilot_optax._fusion import tree_sums
    >>> x = {"a": jnp.arange(5.0), "b": jnp.ones((2, 3))}
    >>> tree_sums(lambda u, w: jnp.stack([jnp.sum(u * w), jnp.sum(u * u)]), x, x, chunk=2)
    Array([36., 36.], dtype=float32)
  """
  if chunk == "auto":
    chunk = default_chunk()
  leaves = list(zip(*(map(jnp.asarray, jax.tree.leaves(tree)) for tree in trees), strict=True))
  if not leaves:
    empty = [jax.ShapeDtypeStruct((0,), jnp.float32)] * len(trees)
    shape = jax.eval_shape(piece_sums, *empty)
    return jnp.zeros(shape.shape, shape.dtype)
  if chunk is None:
    return sum(piece_sums(*[x.reshape(-1) for x in leaf]) for leaf in leaves)
  total = None
  for leaf in leaves:
    total = _leaf_sums(piece_sums, leaf, chunk, total)
  return total


def sweep(
  sums: Mapping[str, tuple[PieceSumsFn, Sequence[str]]], **trees: chex.ArrayTree
) -> dict[str, chex.Array]:
  """Several sums over all the parameters, computed in one sweep (:func:`tree_sums`).

  Args:
    sums: ``{name: (piece_sums, tree names)}``: each ``piece_sums`` maps 1-D
      pieces of the named trees, in that order, to its sums, shape (K,).
    **trees: the trees by name, of identical structure and leaf shapes.

  Returns:
    ``{name: its sums over all the parameters}``.

  Example:
    >>> import jax.numpy as jnp
    >>> from pilot_optax._fusion import sweep
    >>> g, h = jnp.arange(4.0), jnp.ones(4)
    >>> out = sweep({"dot": (lambda a, b: jnp.sum(a * b)[None], ("g", "h")),
    ...              "sq": (lambda a: jnp.sum(a * a)[None], ("g",))}, g=g, h=h)
    >>> out["dot"], out["sq"]
    (Array([6.], dtype=float32), Array([14.], dtype=float32))
  """
  used = [name for name in trees if any(name in args for _, args in sums.values())]
  plan = [(key, fn, [used.index(a) for a in args]) for key, (fn, args) in sums.items()]

  def piece_sums(*pieces):
    return jnp.concatenate([fn(*[pieces[i] for i in idx]) for _, fn, idx in plan])

  total = tree_sums(piece_sums, *(trees[name] for name in used))
  sizes = [
    jax.eval_shape(fn, *[jax.ShapeDtypeStruct((1,), jnp.float32)] * len(idx)).shape[0]
    for _, fn, idx in plan
  ]
  ends = list(itertools.accumulate(sizes))
  return {
    key: total[end - size : end] for (key, _, _), size, end in zip(plan, sizes, ends, strict=True)
  }
