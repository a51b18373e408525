"""SEAM along an RL run (docs/online.md): above both `rl` (whose run it watches) and `seam` (whose scores it
computes), which never import each other."""
