"""What every figure of the project does last: lay out, title, save as PNG, free the memory."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: sweeps and CI have no display

import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig, path: Path, title: str | None = None) -> Path:
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
