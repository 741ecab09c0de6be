"""Per-element costs behind PILOT's step on this machine: memory, transcendentals, the lookahead.

    python -m benchmarks.speed.elementwise_cost [--n 11200000] [--out benchmarks/results/elementwise_cost_cpu.json]

Each kernel reads float32 vectors of length n and reduces to a scalar (so no output buffer
is allocated), jitted, median of interleaved repetitions (benchmarks.speed.timing). The lookahead variants compute the
same three sums d L / d(p_m, p_v, p_s) in different ways, to show what XLA makes of each:
- `grad`: jax.grad of the summed lookahead (what pilot_optax first did);
- `jvp_dot`: three jvp tangents stacked and contracted with the gradient by a dot;
- `jvp chunked_loop`: the same tangents over 64K-element chunks in a fori_loop;
- `grad chunked sweep`: what pilot_optax does, jax.grad of the lookahead restricted to each
  chunk, summed over the chunks (pilot_optax._lookahead.knob_gradient_pieces,
  _fusion.tree_sums), so that each chunk's forward and backward values stay in cache-sized
  buffers. (Before pilot_optax used jax.grad in the step, the derivative was written out in
  closed form and swept the same way; `elementwise_cost_cpu.json` holds those rows.)
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import jax
import jax.numpy as jnp

from benchmarks import records
from benchmarks.speed import timing
from pilot_optax import PilotState, _fusion, init_phi
from pilot_optax._lookahead import knob_gradient_pieces
from pilot_optax._math import TINY as _TINY
from pilot_optax._math import agreement_sums
from pilot_optax._math import direction as _direction


def _u(knobs, gp, m, v):
  return _direction(knobs, m * 10.0, jnp.maximum(v * 1000.0, _TINY), gp, 1e-8)


def _u_with_where(knobs, gp, m, v):
  """The direction as first written: a `where` guards the denominator (same values)."""
  pm, pv, ps = knobs[0], knobs[1], knobs[2]
  n = gp + pm * (m * 10.0 - gp)
  magnitude = jnp.exp((1 - ps) * jnp.log(jnp.maximum(jnp.abs(n), _TINY)))
  denom = jnp.exp(pv * jnp.log(jnp.maximum(v * 1000.0, _TINY))) + 1e-8
  return jnp.sign(n) * magnitude / jnp.where(denom > 0, denom, 1)


def _tangents(gp, m, v, knobs):
  """The three directional derivatives of u with respect to the knobs, one per knob."""
  return jnp.stack(
    [jax.jvp(lambda k: _u(k, gp, m, v), (knobs,), (jnp.eye(3)[i],))[1] for i in range(3)]
  )


def _chunked(g, gp, m, v, knobs, chunk=65536):
  chunk = min(chunk, g.shape[0])  # a chunk larger than the vector cannot even be traced
  count = g.shape[0] // chunk

  def body(i, acc):
    cut = lambda x: jax.lax.dynamic_slice(x, (i * chunk,), (chunk,))  # noqa: E731
    return acc + jnp.sum(_tangents(cut(gp), cut(m), cut(v), knobs) * cut(g), axis=1)

  acc = jax.lax.fori_loop(0, count, body, jnp.zeros(3))
  tail = slice(count * chunk, None)
  return acc + jnp.sum(_tangents(gp[tail], m[tail], v[tail], knobs) * g[tail], axis=1)


def _grad_chunk(chunk):
  """What pilot_optax computes: jax.grad of the lookahead chunk by chunk, summed."""

  def sums(g, gp, m, v, knobs):
    state = PilotState(jnp.int32(5), m, v, gp, jnp.float32(0.3), init_phi(2), knobs)
    pieces = knob_gradient_pieces(state, b1=0.9, b2=0.999, eps=1e-8)
    return _fusion.tree_sums(pieces, g, m, v, gp, chunk=chunk)

  return sums


KERNELS = {
  "sum(g*g)  [memory]": lambda g, gp, m, v, k: jnp.sum(g * g),
  "sum(exp)": lambda g, gp, m, v, k: jnp.sum(jnp.exp(0.3 * g)),
  "sum(log)": lambda g, gp, m, v, k: jnp.sum(jnp.log(jnp.abs(g))),
  "sum(exp(p*log|g|))": lambda g, gp, m, v, k: jnp.sum(jnp.exp(0.3 * jnp.log(jnp.abs(g)))),
  "sum(|g|**p)  [lax.pow]": lambda g, gp, m, v, k: jnp.sum(jnp.abs(g) ** k[2]),
  "sum(g*sqrt-div)  [Adam-like]": lambda g, gp, m, v, k: jnp.sum(g / (jnp.sqrt(v) + 1e-8)),
  "lookahead value  [forward only]": lambda g, gp, m, v, k: jnp.sum(g * _u(k, gp, m, v)),
  "lookahead value, where-guarded": lambda g, gp, m, v, k: jnp.sum(g * _u_with_where(k, gp, m, v)),
  "lookahead grad": lambda g, gp, m, v, k: jax.grad(lambda kk: jnp.sum(g * _u(kk, gp, m, v)))(k),
  "lookahead jvp_dot": lambda g, gp, m, v, k: jnp.dot(
    _tangents(gp, m, v, k), g, precision="highest"
  ),
  "lookahead jvp chunked_loop": _chunked,
  "lookahead grad, chunked sweep  [pilot_optax]": _grad_chunk(_fusion.CHUNK),
  **{f"lookahead grad, chunk 2^{k}": _grad_chunk(2**k) for k in (15, 16, 17, 19, 20)},
  "agreement sums, whole vectors": lambda g, gp, m, v, k: _fusion.tree_sums(
    agreement_sums, g, gp, chunk=None
  ),
}


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.speed.elementwise_cost",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.ArgumentDefaultsHelpFormatter,
  )
  parser.add_argument(
    "--n", type=int, default=11_200_000, help="elements of each vector (ResNet-18's 11.2M)"
  )
  parser.add_argument("--reps", type=int, default=7, help="repetitions; medians are reported")
  parser.add_argument(
    "--out",
    type=Path,
    default=None,
    help="JSON of the raw numbers; default: benchmarks/results/elementwise_cost_<platform>.json",
  )
  args = parser.parse_args(argv)
  keys = jax.random.split(jax.random.key(0), 4)
  g, gp, m = (jax.random.normal(k, (args.n,)) for k in keys[:3])
  v = jax.random.uniform(keys[3], (args.n,))
  knobs = jnp.array([0.8, 0.47, 0.12])
  inputs = (g, gp, m, v, knobs)

  def run(fn):
    compiled = jax.jit(fn)
    return (lambda args, _: (args, compiled(*args))), (inputs, None)

  times = timing.time_interleaved({name: run(fn) for name, fn in KERNELS.items()}, args.reps, 1)
  rows = {name: statistics.median(t) for name, t in times.items()}
  print(f"{'kernel':36s} {'ms':>8s} {'ns/element':>11s}")
  for name, sec in rows.items():
    print(f"{name:36s} {1e3 * sec:8.2f} {1e9 * sec / args.n:11.3f}")
  records.write_json(
    args.out or records.results_path(f"elementwise_cost_{jax.devices()[0].platform}.json"),
    records.header(records.command_line("benchmarks.speed.elementwise_cost", argv))
    | {"n": args.n, "median_seconds": rows, "raw_seconds": times},
  )


if __name__ == "__main__":
  main()
