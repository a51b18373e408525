"""Selecting RL prompts by SEAM and its baselines (docs/selection.md)."""
