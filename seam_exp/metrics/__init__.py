"""Numbers every experiment reports, each computed in exactly one place (docs/metrics.md).

The bottom layer of the package: imports numpy, scipy and nothing else of seam_exp.
"""
