"""pilot_optax: the PILOT optimizer (arXiv:2605.24570) for JAX and optax."""

from pilot_optax._lookahead import lookahead_objective
from pilot_optax._pilot import pilot, scale_by_pilot
from pilot_optax._policy import init_phi, policy_knobs
from pilot_optax._states import PilotState, pilot_states

__version__ = "0.1.0"

__all__ = [
  "PilotState",
  "init_phi",
  "lookahead_objective",
  "pilot",
  "pilot_states",
  "policy_knobs",
  "scale_by_pilot",
]
