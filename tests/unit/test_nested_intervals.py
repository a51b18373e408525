"""Intervals over trained models (metrics.intervals.mean_ci_over_models) on synthetic runs whose variance
components are known: the model each run read, its RL seed, and the prompts every run shares."""

import numpy as np
import pytest

from seam_exp.metrics.intervals import mean_ci_over_models, mean_ci_over_seeds

MODELS, RL_SEEDS, PROMPTS = 5, 3, 200
SD_MODEL, SD_RL, SD_PROMPT, SD_NOISE = 0.2, 0.05, 0.6, 1.0  # training noise dominates RL noise, as measured
SIMULATIONS = 2000


def simulated_runs(rng, sd_prompt: float):
    """One experiment: per run, its mean over the shared prompts and its own standard error over prompts,
    as a run reports them; the true mean is 0."""
    models = np.repeat(np.arange(MODELS), RL_SEEDS)
    model_effect = rng.normal(0, SD_MODEL, MODELS)[models]
    rl_effect = rng.normal(0, SD_RL, models.size)
    prompt_effect = rng.normal(0, sd_prompt / np.sqrt(PROMPTS))  # the same prompts for every run
    noise = rng.normal(0, SD_NOISE / np.sqrt(PROMPTS), models.size)
    values = model_effect + rl_effect + prompt_effect + noise
    prompt_se = np.full(models.size, np.hypot(sd_prompt, SD_NOISE) / np.sqrt(PROMPTS))
    return values, models, prompt_se


def coverage(interval, sd_prompt: float) -> float:
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(SIMULATIONS):
        lo, hi = interval(*simulated_runs(rng, sd_prompt))
        hits += lo <= 0 <= hi
    return hits / SIMULATIONS


def over_models(values, models, prompt_se):
    return mean_ci_over_models(values, models)[1:3]


def over_models_and_prompts(values, models, prompt_se):
    return mean_ci_over_models(values, models, prompt_se)[1:3]


def over_rl_seeds_of_one_model(values, models, prompt_se):
    return mean_ci_over_seeds(values[models == 0])[1:]


def over_runs_as_if_independent(values, models, prompt_se):
    return mean_ci_over_seeds(values)[1:]


def test_the_interval_over_trained_models_covers_where_rl_seed_intervals_do_not():
    assert coverage(over_models, sd_prompt=0.0) == pytest.approx(0.95, abs=0.015)
    assert coverage(over_rl_seeds_of_one_model, sd_prompt=0.0) < 0.7
    assert coverage(over_runs_as_if_independent, sd_prompt=0.0) < 0.85


def test_a_shared_prompt_effect_needs_the_prompt_term():
    # the prompts every run reads shift every run alike: the spread over models cannot see them
    assert coverage(over_models, sd_prompt=SD_PROMPT * 4) < 0.85
    assert coverage(over_models_and_prompts, sd_prompt=SD_PROMPT * 4) >= 0.94


def test_the_point_weighs_each_trained_model_once_and_one_model_has_no_interval():
    mean, lo, hi, n = mean_ci_over_models([1.0, 1.0, 1.0, 4.0], ["a", "a", "a", "b"])
    assert (mean, n) == (2.5, 2) and lo < 2.5 < hi
    mean, lo, hi, n = mean_ci_over_models([1.0, 2.0], ["a", "a"])
    assert mean == 1.5 and n == 1 and np.isnan(lo) and np.isnan(hi)
    with pytest.raises(ValueError, match="paired"):
        mean_ci_over_models([1.0, 2.0], ["a"])
