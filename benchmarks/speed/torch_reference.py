"""Times the PyTorch reference PILOT against torch.optim.Adam(foreach=True); no JAX here.

Run by benchmarks/step_overhead.py, in-process when torch and pilot-optimizer are importable,
else as `PYTHON benchmarks/_torch_reference.py SHAPES_JSON REPS` with another interpreter
(e.g. a separate virtual environment holding torch). Prints one JSON object.
"""

import json
import statistics
import sys
import time


def time_reference(shape_sets: dict, reps: int = 7, steps: int = 3) -> dict:
  import torch
  from pilot import PILOT

  torch.manual_seed(0)
  results = {"torch": torch.__version__, "threads": torch.get_num_threads(), "sets": {}}
  for name, shapes in shape_sets.items():
    params = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
    for p in params:
      p.grad = torch.randn_like(p)
    optimizers = {
      "pilot": PILOT(params, lr=1e-3, weight_decay=1e-4),
      "adam": torch.optim.Adam(params, lr=1e-3, foreach=True),
    }
    for opt in optimizers.values():  # warm-up (lazy state)
      opt.step()
      opt.step()
    times = {k: [] for k in optimizers}
    for _ in range(reps):
      for key, opt in optimizers.items():  # interleaved: drift hits both alike
        start = time.perf_counter()
        for _ in range(steps):
          opt.step()
        times[key].append((time.perf_counter() - start) / steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    results["sets"][name] = {
      "seconds": med,
      "pilot_over_adam": med["pilot"] / med["adam"],
      "raw": times,
    }
  return results


if __name__ == "__main__":
  print(json.dumps(time_reference(json.loads(sys.argv[1]), int(sys.argv[2]))))
