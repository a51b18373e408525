"""notebooks/results.py executed as a notebook (jupytext -> nbclient) on smoke outputs of every experiment
it shows, so it cannot silently rot: every section must find its tables and figures."""

from __future__ import annotations

import jupytext
import pandas as pd
import pytest
from nbclient import NotebookClient

from seam_exp import figures
from tests.slow.helpers import ROOT
from tests.slow.test_augmentation_e2e import AUGMENTATION_SMOKE
from tests.slow.test_rlhf_e2e import MISMATCH_PAPER_SMOKE, MISMATCH_SMOKE
from tests.slow.test_seam_e2e import GROUND_TRUTH
from tests.slow.test_selection_e2e import SELECTION_SMOKE

pytestmark = pytest.mark.slow
ONE_CELL = ("scale.sizes=[s]", "trainer.num_threads=1")


def test_results_notebook_shows_every_experiments_tables_and_figures(smoke_runs, monkeypatch):
    smoke_runs.run_all(
        ("+experiment=saturation", *ONE_CELL),
        MISMATCH_SMOKE,
        MISMATCH_PAPER_SMOKE,
        ("+experiment=seam", GROUND_TRUTH),
        SELECTION_SMOKE,
        AUGMENTATION_SMOKE,
    )
    monkeypatch.setenv("SEAM_EXP_OUTPUTS", str(smoke_runs.root / "outputs"))
    notebook = jupytext.read(ROOT / "notebooks" / "results.py")
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    text = "".join(out.get("text", "") for out in outputs)
    assert "NOT RUN YET" not in text and not [o for o in outputs if o.output_type == "error"]
    shown = [out["data"] for out in outputs if out.output_type == "display_data"]
    tables = [d["text/markdown"] for d in shown if "text/markdown" in d]
    figures = [d for d in shown if "image/png" in d]
    for title in ("RLHF gain over SFT", "mismatch", "SEAM vs true", "selected prompts", "augmenting"):
        assert any(title.lower() in t.lower() for t in tables), title
    # saturation heatmap; mismatch curves; the paper protocol; two SEAM scatters; selection bars and
    # overlap; augmentation bars and mismatch curves
    assert len(figures) >= 9


def test_the_claims_ledger_reads_the_smoke_runs_it_has_and_says_which_it_lacks(smoke_runs):
    smoke_runs.run_all(MISMATCH_PAPER_SMOKE, AUGMENTATION_SMOKE)
    outputs = smoke_runs.root / "outputs"
    assert figures.main([str(outputs)]) == 0
    smoke = pd.read_csv(outputs / "figures" / "claims" / "claims_smoke.csv").set_index("claim")
    default = pd.read_csv(outputs / "figures" / "claims" / "claims_default.csv")
    assert (default["verdict"] == "no runs").all()  # nothing ran at the default scale here
    # one trained model per cell at smoke: read, but never a verdict
    mismatch = "The RM misjudges the PM's own answers: mismatch 35-40%"
    assert smoke.loc[mismatch, "verdict"] == "inconclusive (one trained model)"
    assert smoke.loc[mismatch, "this project (95% CI)"] != "-"
    # the smoke augmentation runs override seam.ground_truth.n_samples: a variant, which the ledger never
    # reads as the claim's own configuration
    for statement in (
        "SEAM-guided augmentation of both models beats the original models",
        "SEAM-guided augmentation beats augmenting random prompts",
    ):
        assert smoke.loc[statement, "verdict"] == "no runs", statement
