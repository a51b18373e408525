"""SEAM along an RL run (docs/online.md): above `rl` (whose run it watches), `seam` (whose scores it computes)
and `selection` (whose rule its online filter drops by), which never import it."""
