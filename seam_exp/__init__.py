"""seam-exp: reward/policy model seamlessness (SEAM) experiments in a preference world with a gold oracle."""

__version__ = "0.1.0"
