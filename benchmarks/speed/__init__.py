"""What a step costs: PILOT against optax, the PyTorch reference and earlier commits of itself."""
