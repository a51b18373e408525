"""SEAM: per-prompt PM/RM discrepancy under three formulas (docs/seam.md; numpy only).

For a prompt x with reference y+ and k worse answers y_1..y_k, all formulas share the length-normalised
log-probability  l_i = log pi(y_i | x) / |y_i|^alpha  (alpha = 0 disables the length penalty):

  normalized   (this project's reading; in [0, 1], higher = less seamless)
      w_i = softmax_i(l_i / T)   (or 1/k: "uniform", the RM-only ablation)
      m_i = 1[r(x, y_i) >= r(x, y+)] (hard; an RM tie counts)  |  sigmoid((r(x, y_i) - r(x, y+)) / tau) (soft)
      SEAM(x) = sum_i w_i m_i
  paper        (the paper's Eq. 2-3 with its length penalty; <= 0, LOWER = less seamless)
      eps_i = max(r(x, y_i) - r(x, y+), 0)
      SEAM(x) = sum_i l_i eps_i             (uniform: every l_i replaced by -1, keeping the sign)
  paper_prob   (the same hinge weighted by the per-token probability; >= 0, higher = less seamless)
      SEAM(x) = sum_i exp(l_i) eps_i        (uniform: exp(l_i) replaced by 1)

Which end is "least seamless" differs (LEAST_SEAMLESS_END); `unseamlessness` turns any formula's score into
one where higher always means less seamless, and every selection and correlation goes through it.

Array functions take one prompt (shape [k]) or a batch (shape [..., k]); the last axis indexes the worse
answers. `seam_table` does the same from a long DataFrame and keeps every intermediate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

Mode = Literal["hard", "soft"]
Weighting = Literal["pm", "uniform"]
Formula = Literal["normalized", "paper", "paper_prob"]

FORMULAS = ("normalized", "paper", "paper_prob")
# The end of each formula's scale where the least seamless prompts are (the paper filters its lowest 20%).
LEAST_SEAMLESS_END = {"normalized": "high", "paper": "low", "paper_prob": "high"}

REQUIRED_COLUMNS = ("prompt_id", "candidate_index", "is_reference", "logp", "length", "reward")


@dataclass(frozen=True)
class SeamConfig:
    alpha: float = 1.0
    temperature: float = 1.0
    mode: Mode = "hard"
    tau: float = 1.0
    weighting: Weighting = "pm"
    formula: Formula = "normalized"

    def __post_init__(self):
        if self.formula not in FORMULAS:
            raise ValueError(f"unknown seam formula '{self.formula}'; valid: {', '.join(FORMULAS)}")
        if self.mode not in ("hard", "soft"):
            raise ValueError(f"mode must be 'hard' or 'soft', got {self.mode!r}")
        if self.weighting not in ("pm", "uniform"):
            raise ValueError(f"weighting must be 'pm' or 'uniform', got {self.weighting!r}")
        if not self.temperature > 0 or not self.tau > 0:
            raise ValueError("temperature and tau must be > 0")


def _finite(name: str, a: np.ndarray) -> np.ndarray:
    # A NaN/inf here (failed generation, empty answer) would silently poison softmax and means: fail loudly.
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite values")
    return a


def _as_scalar_if_0d(a: np.ndarray) -> np.ndarray | np.float64:
    return a[()] if a.ndim == 0 else a


def length_normalized_logp(logp, lengths, alpha: float = 1.0) -> np.ndarray:
    """l_i = logp_i / |y_i|^alpha. Lengths are token counts; they must be > 0 unless alpha == 0."""
    logp = _finite("logp", np.asarray(logp, dtype=np.float64))
    lengths = np.asarray(lengths, dtype=np.float64)
    if logp.shape != lengths.shape:
        raise ValueError(f"logp shape {logp.shape} != lengths shape {lengths.shape}")
    if alpha == 0:
        return logp.copy()
    if np.any(~np.isfinite(lengths)) or np.any(lengths <= 0):
        raise ValueError("lengths must be finite and > 0 when alpha != 0")
    return logp / lengths**alpha


def pm_weights(l, temperature: float = 1.0, uniform: bool = False) -> np.ndarray:  # noqa: E741 (paper's l)
    """softmax over the last axis of l / T (stable: the max is subtracted first); uniform -> 1/k."""
    ln = _finite("l", np.asarray(l, dtype=np.float64))
    if ln.ndim == 0 or ln.shape[-1] == 0:
        raise ValueError("need at least one worse answer (last axis of l is empty)")
    if uniform:
        return np.full_like(ln, 1.0 / ln.shape[-1])
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = ln / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def rm_misjudgement(r_worse, r_ref, mode: Mode = "hard", tau: float = 1.0) -> np.ndarray:
    """m_i: does the RM fail to rank the worse answer below the reference? r_ref has shape [...]."""
    r_worse = _finite("r_worse", np.asarray(r_worse, dtype=np.float64))
    r_ref = _finite("r_ref", np.asarray(r_ref, dtype=np.float64))
    if r_worse.ndim == 0:
        raise ValueError("r_worse must have a last axis over the k worse answers")
    if r_ref.shape != r_worse.shape[:-1]:
        raise ValueError(
            f"r_ref shape {r_ref.shape} must equal r_worse shape without its last axis {r_worse.shape[:-1]}"
        )
    diff = r_worse - r_ref[..., None]
    if mode == "hard":
        return (diff >= 0).astype(np.float64)
    if mode == "soft":
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        # sigmoid via tanh: exact and overflow-free for any diff, unlike 1 / (1 + exp(-x)).
        return 0.5 * (1.0 + np.tanh(diff / (2.0 * tau)))
    raise ValueError(f"mode must be 'hard' or 'soft', got {mode!r}")


def hinge_excess(r_worse, r_ref) -> np.ndarray:
    """eps_i = max(r(y_i) - r(y+), 0): how far the RM ranks a worse answer above the reference (Eq. 3)."""
    r_worse = _finite("r_worse", np.asarray(r_worse, dtype=np.float64))
    r_ref = _finite("r_ref", np.asarray(r_ref, dtype=np.float64))
    if r_worse.ndim == 0 or r_ref.shape != r_worse.shape[:-1]:
        raise ValueError(
            f"r_ref shape {r_ref.shape} must equal r_worse shape {r_worse.shape} without its last axis"
        )
    return np.maximum(r_worse - r_ref[..., None], 0.0)


def seam_terms(l, r_worse, r_ref, cfg: SeamConfig) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    """(w, e), the per-answer weight and RM term of cfg.formula, so that SEAM = sum_i w_i e_i."""
    l = _finite("l", np.asarray(l, dtype=np.float64))  # noqa: E741 (the paper's l)
    uniform = cfg.weighting == "uniform"
    if cfg.formula == "normalized":
        w = pm_weights(l, cfg.temperature, uniform=uniform)
        e = rm_misjudgement(r_worse, r_ref, cfg.mode, cfg.tau)
    else:
        if l.ndim == 0 or l.shape[-1] == 0:
            raise ValueError("need at least one worse answer (last axis of l is empty)")
        e = hinge_excess(r_worse, r_ref)
        if cfg.formula == "paper":
            w = np.full_like(l, -1.0) if uniform else l
        else:
            w = np.ones_like(l) if uniform else np.exp(l)
    if w.shape != e.shape:
        raise ValueError(f"logp shape {w.shape} != r_worse shape {e.shape}")
    return w, e


def seam_score(logp, lengths, r_worse, r_ref, **settings):
    """Per-prompt SEAM of the formula in `settings` (SeamConfig fields; default: normalized, hard, pm
    weights); returns shape [...] (a numpy scalar for a single prompt)."""
    cfg = SeamConfig(**settings)
    w, e = seam_terms(length_normalized_logp(logp, lengths, cfg.alpha), r_worse, r_ref, cfg)
    return _as_scalar_if_0d((w * e).sum(axis=-1))


def unseamlessness(scores, formula: Formula) -> np.ndarray:
    """The scores of `formula` oriented so that higher always means less seamless."""
    if formula not in FORMULAS:
        raise ValueError(f"unknown seam formula '{formula}'; valid: {', '.join(FORMULAS)}")
    scores = np.asarray(scores, dtype=np.float64)
    return -scores if LEAST_SEAMLESS_END[formula] == "low" else scores


def least_seamless(prompt_ids, scores, formula: Formula, fraction: float, seed: int = 0) -> np.ndarray:
    """The round(fraction * n) prompt ids that are least seamless under `formula`, whichever end of its
    scale that is. Ties are broken by a seeded random order, never by id: ids follow task families, and
    many prompts tie (e.g. SEAM 0 when the RM ranks every worse answer below the reference)."""
    ids, badness = np.asarray(prompt_ids), unseamlessness(scores, formula)
    if ids.shape != badness.shape or ids.ndim != 1:
        raise ValueError(f"prompt_ids {ids.shape} and scores {badness.shape} must be 1-D and paired")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if np.isnan(badness).any():
        raise ValueError("scores contain NaN")
    return highest_ids(ids, badness, int(round(fraction * len(ids))), seed)


def highest_ids(prompt_ids, values, count: int, seed: int = 0) -> np.ndarray:
    """The `count` ids of the highest values, ties broken by a seeded random order (never by id)."""
    ids, values = np.asarray(prompt_ids), np.asarray(values, dtype=float)
    shuffle = np.random.default_rng(seed).permutation(len(ids))
    order = shuffle[np.argsort(-values[shuffle], kind="stable")]
    return ids[order[:count]]


def rank_discordance(l_all, r_all):
    """Fraction of candidate pairs that the PM (by l) and the RM (by r) order differently.

    The last axis holds all k+1 candidates (reference included, position irrelevant). A pair is
    comparable only if neither ordering ties it (l_i != l_j and r_i != r_j): a tie expresses no
    preference, so it can neither agree nor disagree. With no comparable pair the result is 0.0 (no
    observed disagreement), not NaN, so a per-prompt table stays numeric. Note the contrast with the hard
    misjudgement m_i, where an RM tie with the reference does count as an error.
    """
    l_all = _finite("l_all", np.asarray(l_all, dtype=np.float64))
    r_all = _finite("r_all", np.asarray(r_all, dtype=np.float64))
    if l_all.shape != r_all.shape or l_all.ndim == 0:
        raise ValueError(
            f"l_all shape {l_all.shape} and r_all shape {r_all.shape} must match (and be >= 1-D)"
        )
    n = l_all.shape[-1]
    # Pairwise sign matrices [..., n, n]; the strict upper triangle visits each unordered pair once.
    s_pm = np.sign(l_all[..., :, None] - l_all[..., None, :])
    s_rm = np.sign(r_all[..., :, None] - r_all[..., None, :])
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    comparable = (s_pm != 0) & (s_rm != 0) & upper
    discordant = comparable & (s_pm != s_rm)
    n_comp = comparable.sum(axis=(-2, -1))
    n_disc = discordant.sum(axis=(-2, -1))
    out = np.where(n_comp > 0, n_disc / np.maximum(n_comp, 1), 0.0)
    return _as_scalar_if_0d(out)


def _validate_long(df: pd.DataFrame) -> pd.DataFrame:
    for col in REQUIRED_COLUMNS:
        if col not in df.columns:
            raise ValueError(f"missing column {col!r} (need {', '.join(REQUIRED_COLUMNS)})")
    if len(df) == 0:
        raise ValueError("empty candidate table")
    for col in ("candidate_index", "logp", "length", "reward"):
        if df[col].isna().any():
            raise ValueError(f"column {col!r} has missing values")
    is_ref = df["is_reference"].astype(bool)
    n_ref = is_ref.groupby(df["prompt_id"], sort=False).sum()
    bad = n_ref[n_ref != 1]
    if len(bad):
        raise ValueError(f"prompt {bad.index[0]!r} has {int(bad.iloc[0])} reference rows, expected exactly 1")
    mismatch = df.loc[is_ref != (df["candidate_index"] == 0), "prompt_id"]
    if len(mismatch):
        raise ValueError(
            f"prompt {mismatch.iloc[0]!r}: is_reference must be True exactly where candidate_index == 0"
        )
    dup = df.loc[df.duplicated(["prompt_id", "candidate_index"]), "prompt_id"]
    if len(dup):
        raise ValueError(f"prompt {dup.iloc[0]!r} has a duplicated candidate_index")
    size = df.groupby("prompt_id", sort=False).size()
    lonely = size[size < 2]
    if len(lonely):
        raise ValueError(f"prompt {lonely.index[0]!r} has no worse answers")
    # Sorting puts each prompt's rows together with the reference (index 0) first.
    return df.sort_values(["prompt_id", "candidate_index"], kind="stable").reset_index(drop=True)


def seam_table(df: pd.DataFrame, cfg: SeamConfig | None = None) -> pd.DataFrame:
    """Per-prompt SEAM from a long table (one row per (prompt_id, candidate), candidate_index 0 = reference).

    Returns one row per prompt (sorted by prompt_id) with scalar columns
        prompt_id, k, ref_logp, ref_length, ref_l, ref_reward, seam, seam_uniform, rank_discordance
    and list columns, aligned element-wise over the k worse answers in candidate_index order:
        candidate_index, logp, length, l, reward, weight, misjudgement
    where `misjudgement` is the formula's RM term (m_i, or the hinge eps_i of the paper formulas), so
    that seam == sum(weight * misjudgement) can be checked by hand. `seam` uses cfg.weighting,
    `seam_uniform` the uniform weights of the same formula. cfg is stored in `out.attrs`.
    Prompts may have different k.
    """
    cfg = cfg or SeamConfig()
    df = _validate_long(df)
    sizes = df.groupby("prompt_id", sort=False).size()
    starts = np.concatenate([[0], np.cumsum(sizes.to_numpy())[:-1]])
    cols = {c: df[c].to_numpy(dtype=np.float64) for c in ("candidate_index", "logp", "length", "reward")}
    rows: list[pd.DataFrame] = []
    # Prompts with the same number of candidates are stacked and scored in one vectorised call.
    for n in np.unique(sizes.to_numpy()):
        sel = sizes.to_numpy() == n
        idx = starts[sel][:, None] + np.arange(n)  # [prompts, k+1], reference in column 0
        logp, length, reward = cols["logp"][idx], cols["length"][idx], cols["reward"][idx]
        l_all = length_normalized_logp(logp, length, cfg.alpha)
        w, m = seam_terms(l_all[:, 1:], reward[:, 1:], reward[:, 0], cfg)
        w_uniform, _ = seam_terms(
            l_all[:, 1:], reward[:, 1:], reward[:, 0], replace(cfg, weighting="uniform")
        )
        rows.append(
            pd.DataFrame(
                {
                    "prompt_id": sizes.index[sel],
                    "k": n - 1,
                    "ref_logp": logp[:, 0],
                    "ref_length": length[:, 0],
                    "ref_l": l_all[:, 0],
                    "ref_reward": reward[:, 0],
                    "seam": (w * m).sum(axis=-1),
                    "seam_uniform": (w_uniform * m).sum(axis=-1),
                    "rank_discordance": np.asarray(rank_discordance(l_all, reward)),
                    "candidate_index": cols["candidate_index"][idx][:, 1:].astype(np.int64).tolist(),
                    "logp": logp[:, 1:].tolist(),
                    "length": length[:, 1:].tolist(),
                    "l": l_all[:, 1:].tolist(),
                    "reward": reward[:, 1:].tolist(),
                    "weight": w.tolist(),
                    "misjudgement": m.tolist(),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True).sort_values("prompt_id", kind="stable").reset_index(drop=True)
    out.attrs["seam_config"] = asdict(cfg)
    return out


# ------------------------------------------------------------------- named settings (ablations)
# Named SEAM settings (the full score and its ablations) evaluated on one scored candidate table.
#
# An ablation is a dict of overrides of the base setting (`seam.alpha`, `temperature`, `mode`, `tau`,
# `weighting`, `formula`) plus `score`: `seam` (sum_i w_i e_i) or `rank_discordance` (PM vs RM ordering
# over all k+1 candidates, with the same length penalty). E.g. `{weighting: uniform}` is the RM-only
# ablation and `{alpha: 0}` drops the length penalty. Every ablation is scored under every formula
# asked for, except where that would repeat a number: rank discordance has no formula (reported once,
# formula "-"), and hard/soft (`mode`) is a knob of the normalized formula only.

SCORES = ("seam", "rank_discordance")
MAIN_SETTING = "seam"  # the ablation name of the unablated score
SEAM_KEYS = ("alpha", "temperature", "mode", "tau", "weighting", "formula")
NO_FORMULA = "-"


def seam_config(base: Mapping, overrides: Mapping | None = None) -> tuple[SeamConfig, str]:
    """The SeamConfig and score name of base settings updated by an ablation's overrides."""
    merged = {k: base[k] for k in SEAM_KEYS if k in base}
    merged.update({k: v for k, v in (overrides or {}).items() if k != "score"})
    unknown = sorted(set(merged) - set(SEAM_KEYS))
    if unknown:
        raise ValueError(f"unknown SEAM setting '{unknown[0]}'; valid: {', '.join(SEAM_KEYS)}, score")
    score = (overrides or {}).get("score", "seam")
    if score not in SCORES:
        raise ValueError(f"unknown SEAM score '{score}'; valid: {', '.join(SCORES)}")
    return SeamConfig(**merged), score


def score_settings(
    base: Mapping, ablations: Mapping[str, Mapping], formulas: Sequence[str]
) -> dict[tuple[str, str], tuple[SeamConfig, str]]:
    """(formula, ablation) -> (SeamConfig, score name) for every distinct score to report."""
    out = {}
    for formula in formulas:
        for name, overrides in ablations.items():
            cfg, score = seam_config({**base, "formula": formula}, overrides)
            if score == "rank_discordance":
                out.setdefault((NO_FORMULA, name), (cfg, score))
            elif formula == "normalized" or "mode" not in (overrides or {}):
                out[(formula, name)] = (cfg, score)
    return out


def ablation_scores(
    scored: pd.DataFrame,
    base: Mapping,
    ablations: Mapping[str, Mapping],
    formulas: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per prompt, one column "<formula>:<ablation>" per distinct score (see score_settings)."""
    out = scored[["prompt_id"]].drop_duplicates().sort_values("prompt_id").reset_index(drop=True)
    for (formula, name), (cfg, score) in score_settings(
        base, ablations, formulas or [base.get("formula", "normalized")]
    ).items():
        table = seam_table(scored, cfg)[["prompt_id", score]].rename(columns={score: f"{formula}:{name}"})
        out = out.merge(table, on="prompt_id", validate="one_to_one")
    return out


def formula_scores(scored: pd.DataFrame, base: Mapping, formulas: Sequence[str]) -> pd.DataFrame:
    """One row per prompt, one column per formula: SEAM of the base setting (no ablation)."""
    scores = ablation_scores(scored, base, {MAIN_SETTING: {}}, formulas)
    return scores.rename(columns={f"{f}:{MAIN_SETTING}": f for f in formulas})


def orient(scores, formula: str) -> np.ndarray:
    """Scores of a reported column oriented so that higher = less seamless (rank discordance already is)."""
    return np.asarray(scores, dtype=np.float64) if formula == NO_FORMULA else unseamlessness(scores, formula)
