# %% [markdown]
# # From the diagnosis to the cure
# The paper's argument in this project's outputs: better PMs and RMs stop giving better RLHF
# (saturation), because the RM misjudges what the PM writes (mismatch); SEAM finds the prompts where they
# disagree, and using it to filter the RL data (selection) and to augment both models (augmentation) is the
# cure. Every table and figure below is read from an outputs tree (`make figures` writes it); nothing is
# recomputed here.
#
# Run cell by cell in VS Code / Jupyter (jupytext percent format), or as a script:
# `.venv/bin/python notebooks/results.py`. The outputs tree is `outputs/` or `$SEAM_EXP_OUTPUTS`.
# What each experiment computes: docs/experiments.md, docs/selection.md, docs/augmentation.md.

# %%
import os
from pathlib import Path

from IPython import get_ipython
from IPython.display import Image, Markdown, display

FIGURES = Path(os.environ.get("SEAM_EXP_OUTPUTS", "outputs")) / "figures"
# Tables an aggregation writes beside a group's main table, told apart by the end of their name.
SECONDARY = ("_overlap", "_overlap_across_cells", "_kl_budgets", "_ablation_gains", "_formula_gains")


def kind_of(stem: str) -> str:
    return max((s for s in SECONDARY if stem.endswith(s)), key=len, default="")


def show(experiment: str, figures: tuple[str, ...], command: str, table: str = "") -> None:
    """The `table` kind of tables of `experiment` ("" = each group's main table), each followed by its
    figures (the suffixes of its name); what to run when there is none yet."""
    tables = [p for p in sorted((FIGURES / experiment).glob("*.md")) if kind_of(p.stem) == table]
    if not tables:
        print(f"NOT RUN YET: {command}, then make figures")
        return
    in_notebook = get_ipython() is not None  # as a script: the table's text and the figures' paths
    for path in tables:
        display(Markdown(path.read_text())) if in_notebook else print(path.read_text())
        for suffix in figures:
            image = path.parent / f"{path.stem}{suffix}.png"
            if image.is_file():
                display(Image(filename=str(image))) if in_notebook else print(f"figure: {image}\n")


# %% [markdown]
# ## 1. Saturation
# Gold gain of RLHF over its SFT start for every (PM, RM) cell. Saturation is the gain flattening, or
# falling, toward the corner of the best PM and the best RM.

# %%
show("saturation", ("_heatmap", "_curves"), "python -m seam_exp +experiment=saturation")

# %% [markdown]
# ## 2. Mismatch
# How often the RM orders the policy's own samples against gold, along RL: the share grows as the policy
# drifts toward what the RM over-rates. The paper's protocol below: two PMs answer the same prompts, a
# human (the labeler) and the RM each pick the better; they disagree 35-40% of the time at every RM size.

# %%
show("mismatch", ("",), "python -m seam_exp +experiment=mismatch")
show("mismatch_paper", ("",), "python -m seam_exp +experiment=mismatch_paper")

# %% [markdown]
# ## 3. SEAM tracks the mismatch
# Spearman correlation of each SEAM variant and formula with the true per-prompt mismatch (the RM against
# gold on the SFT PM's own samples), and one scatter per variant and formula.

# %%
show("seam", ("_contrast_paper_prob", "_adv_paper"), "python -m seam_exp +experiment=seam")

# %% [markdown]
# ## 4. The cure, first half: selection
# RL on the prompts each method keeps against RL on every prompt, paired by seed on the same eval
# samples. A bar right of zero with its interval clear of zero is a filter that helps.

# %%
show("selection", ("_bars", "_rates"), "python -m seam_exp +experiment=selection")
show("selection", ("_heatmap",), "python -m seam_exp +experiment=selection", table="_overlap")

# %% [markdown]
# ## 5. The cure, second half: augmentation
# RLHF after augmenting the PM, the RM or both on the least seamless, random or all RL instructions,
# against the original models. The table's PM SFT gold and RM held-out accuracy say which model a gain
# came from; the curves show whether augmentation lowers the mismatch during RL.

# %%
show("augmentation", ("_bars", "_mismatch"), "python -m seam_exp +experiment=augmentation")
