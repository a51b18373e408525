"""Selection filters: each method drops exactly the prompts it should, and RL on the kept set never sees a
dropped prompt (docs/selection.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seam_exp.experiments.selection import kept_rl_rows, with_refresh_chooser
from seam_exp.rl.resume import PromptSchedule
from seam_exp.selection.filters import Method, dropped_prompts, overlap, parse_method
from seam_exp.selection.prompt_scores import rl_prompt_ids

# Ten prompts whose scores put a known pair at the top of each ranking.
TABLE = pd.DataFrame(
    {
        "prompt_id": np.arange(100, 110),
        "gt_mismatch": [0.0, 0.6, np.nan, 0.5, 0.49, 1.0, 0.1, 0.2, 0.3, 0.0],
        "ref_perplexity": [1.1, 1.2, 9.0, 1.0, 1.3, 1.0, 8.0, 1.0, 1.4, 1.5],
        # paper formula: <= 0, lowest = least seamless
        "seam:adv:paper": [0.0, -0.1, 0.0, -3.0, 0.0, -0.2, -0.1, -5.0, 0.0, -0.3],
        # normalized formula: in [0, 1], highest = least seamless
        "seam:contrast:normalized": [0.1, 0.9, 0.2, 0.0, 0.95, 0.3, 0.1, 0.2, 0.0, 0.1],
    }
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("full", []),
        ("oracle", [101, 103, 105]),  # mismatch >= 0.5; the prompt without a ground truth (NaN) is kept
        ("oracle_top", [101, 105]),  # the two of highest mismatch, at the rate
        ("perplexity", [102, 106]),
        ("seam:adv:paper", [103, 107]),
        ("seam:contrast:normalized", [101, 104]),
    ],
)
def test_each_method_drops_exactly_its_prompts(name, expected):
    dropped = dropped_prompts(parse_method(name), TABLE, rate=0.2, seed=0)
    assert dropped.tolist() == expected


def test_oracle_share_is_measured_not_the_rate():
    for rate in (0.0, 0.1, 0.6):
        assert len(dropped_prompts(Method("oracle"), TABLE, rate, seed=0)) == 3


def test_oracle_top_drops_the_rate_and_ranks_prompts_without_ground_truth_last():
    # 9 of 10 prompts have a ground truth: at 0.9 the one without (NaN, id 102) is the one kept
    assert 102 not in dropped_prompts(Method("oracle_top"), TABLE, rate=0.9, seed=0).tolist()
    assert len(dropped_prompts(Method("oracle_top"), TABLE, rate=0.5, seed=0)) == 5


def test_random_drops_the_rate_of_distinct_prompts_and_the_seed_varies_them():
    draws = [dropped_prompts(Method("random"), TABLE, rate=0.4, seed=s) for s in range(6)]
    for d in draws:
        assert len(d) == 4 and len(set(d.tolist())) == 4 and set(d.tolist()) <= set(TABLE["prompt_id"])
    assert dropped_prompts(Method("random"), TABLE, 0.4, seed=0).tolist() == draws[0].tolist()
    assert len({tuple(d.tolist()) for d in draws}) > 1


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="unknown selection method 'nope'"):
        parse_method("nope")
    with pytest.raises(ValueError, match="unknown variant 'x' in 'seam:x:paper'"):
        parse_method("seam:x:paper")
    with pytest.raises(ValueError, match="unknown formula 'y'"):
        parse_method("seam:adv:y")
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        dropped_prompts(Method("random"), TABLE, rate=1.0, seed=0)
    with pytest.raises(ValueError, match="needs the column 'seam:gpt:paper'"):
        dropped_prompts(parse_method("seam:gpt:paper"), TABLE, rate=0.2, seed=0)
    with pytest.raises(ValueError, match="more than once"):
        dropped_prompts(Method("full"), pd.concat([TABLE, TABLE]), rate=0.2, seed=0)
    with pytest.raises(ValueError, match="unknown chooser 'human' in 'refresh:human'"):
        parse_method("refresh:human")


def test_method_names_round_trip():
    for name in (
        "full",
        "oracle",
        "oracle_top",
        "random",
        "perplexity",
        "seam:gpt:paper_prob",
        "refresh:seam",
    ):
        assert parse_method(name).name == name


def test_a_refresh_arm_drops_nothing_and_turns_the_refresh_on_with_its_chooser(tiny_world):
    from hydra import compose, initialize_config_dir

    from seam_exp.errors import UserError
    from seam_exp.online.refresh import reward_refresh_callbacks
    from seam_exp.utils.cache import ArtifactCache
    from seam_exp.utils.config import CONF_DIR

    method = parse_method("refresh:random")
    assert not method.uses_rate and dropped_prompts(method, TABLE, 0.4, seed=0).size == 0
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=selection", "scale=smoke"])
    pool, cache = tiny_world.data["rl"], ArtifactCache(Path("unused"))
    assert reward_refresh_callbacks(cfg, tiny_world, cache, pool, Path("unused")) == []  # off by default
    on = with_refresh_chooser(cfg, method.variant)
    (refresh,) = reward_refresh_callbacks(on, tiny_world, cache, pool, Path("unused"))
    assert refresh.refresh["chooser"] == "random" and cfg.online.refresh.chooser == "none"
    assert refresh.refresh["every"] == max(1, round(cfg.rl.steps * 0.2))
    with pytest.raises(UserError, match="refresh:seam with online.refresh.chooser=random"):
        with_refresh_chooser(on, "seam")


def test_overlap_is_the_share_of_the_smaller_set():
    assert overlap([1, 2, 3, 4], [3, 4, 5, 6]) == 0.5
    assert overlap([1, 2], [1, 2, 3, 4]) == 1.0
    assert np.isnan(overlap([], [1]))


def test_filtered_rl_never_sees_a_dropped_or_eval_prompt(tiny_world):
    ids = rl_prompt_ids(tiny_world)
    eval_ids = set(tiny_world.data["eval"]["prompt_id"])
    assert ids and not set(ids) & eval_ids  # the table (and so every dropped set) is RL prompts only
    table = pd.DataFrame({"prompt_id": ids})
    dropped = dropped_prompts(Method("random"), table, rate=0.4, seed=3)
    kept = kept_rl_rows(tiny_world, ids, dropped)
    assert sorted(kept["prompt_id"]) == sorted(set(ids) - set(dropped.tolist()))
    # Many passes over the kept set through the loader RL uses: no dropped prompt ever comes out.
    seen = {int(row["prompt_id"]) for batch in PromptSchedule(kept, 8, steps=50, seed=0) for row in batch}
    assert seen == set(kept["prompt_id"])
    assert not seen & set(dropped.tolist())


def test_a_prompt_subset_is_seeded_and_bounds_what_rl_sees(tiny_world):
    every = rl_prompt_ids(tiny_world)
    subset = rl_prompt_ids(tiny_world, max_prompts=10)
    assert len(subset) == 10 and set(subset) < set(every) and subset == rl_prompt_ids(tiny_world, 10)
    kept = kept_rl_rows(tiny_world, subset, np.array(subset[:3]))
    assert sorted(set(kept["prompt_id"])) == subset[3:]


def family_table(n_per_family: int = 50) -> pd.DataFrame:
    """Three families; the primary's scores make it drop mostly family `count`."""
    rng = np.random.default_rng(1)
    families = np.repeat(["count", "sort", "math"], n_per_family)
    seam = rng.random(families.size) - np.where(families == "count", 1.0, 0.0)  # paper: low is unseamless
    return pd.DataFrame(
        {"prompt_id": np.arange(families.size) + 1000, "family": families, "seam:adv:paper": seam}
    )


def test_random_families_draws_the_primarys_family_mix_at_random():
    table, primary = family_table(), parse_method("seam:adv:paper")
    reference = dropped_prompts(primary, table, rate=0.2, seed=0)
    family = table.set_index("prompt_id")["family"]
    expected = family.loc[reference].value_counts().sort_index()
    assert expected.get("count", 0) > 20  # the primary's mix is far from uniform
    draws = [
        dropped_prompts(Method("random_families"), table, 0.2, seed=s, primary=primary) for s in range(4)
    ]
    for d in draws:
        assert len(set(d.tolist())) == len(d) == len(reference)
        assert family.loc[d].value_counts().sort_index().equals(expected)
    assert len({tuple(d.tolist()) for d in draws}) > 1  # random within the family, not the primary's set
    assert set(draws[0].tolist()) != set(reference.tolist())


def test_random_families_needs_a_primary_and_the_family_column():
    table = family_table()
    with pytest.raises(ValueError, match="needs a primary method"):
        dropped_prompts(Method("random_families"), table, 0.2, seed=0)
    with pytest.raises(ValueError, match="needs the column 'family'"):
        dropped_prompts(
            Method("random_families"), table.drop(columns="family"), 0.2, 0, primary=parse_method("random")
        )
