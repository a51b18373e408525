"""Length-grouped training batches (docs/performance.md, "Length-grouped batches"): less padding, every row
still drawn once per pass, seeded, and models trained without it keep their cache keys."""

from __future__ import annotations

import pytest

from seam_exp.experiments import config_with
from seam_exp.models.batching import encode_pairs
from seam_exp.models.datamodule import TrainingDataModule
from seam_exp.models.policy import SFTCollator
from seam_exp.models.reward import PairCollator
from seam_exp.models.train import policy_key, reward_key


class PaddingAndRows(SFTCollator):
    """Collates as SFT does and also returns the batch's prompts, to check which rows were drawn."""

    def __call__(self, rows):
        return super().__call__(rows), [r["prompt"] for r in rows]


def _passes(world, group_by_length: bool, passes: int = 2, batch_size: int = 4):
    rows = world.data["sft"]
    data = TrainingDataModule(
        rows, PaddingAndRows(world.tokenizer), batch_size, 0, group_by_length=group_by_length
    )
    loader = data.train_dataloader()  # one per fit, as Lightning does: its passes are the epochs
    return [list(loader) for _ in range(passes)]


def _padding_share(batches) -> float:
    padded = sum(b.attention_mask.numel() for b, _ in batches)
    return 1 - sum(int(b.attention_mask.sum()) for b, _ in batches) / padded


def test_grouped_batches_pad_less_and_draw_every_row_once_per_pass(tiny_world):
    # batches of 4: on the tiny split (91 rows) transformers groups within megabatches of 20 rows
    shuffled, grouped = _passes(tiny_world, False), _passes(tiny_world, True)
    assert _padding_share(grouped[0]) < 0.5 * _padding_share(shuffled[0])
    prompts = sorted(tiny_world.data["sft"]["prompt"])
    for one_pass in grouped:
        assert sorted(p for _, batch in one_pass for p in batch) == prompts
    order = [[p for _, batch in one_pass for p in batch] for one_pass in grouped]
    assert order[0] != order[1]  # each pass draws a new grouping
    assert order == [[p for _, batch in one_pass for p in batch] for one_pass in _passes(tiny_world, True)]


@pytest.mark.parametrize("max_length", [None, 12])
def test_lengths_are_the_widths_each_row_pads_to_alone(tiny_world, max_length):
    tok, rows = tiny_world.tokenizer, tiny_world.data["rm"].select(range(6))
    pairs = PairCollator(tok, max_length=max_length)
    for row, length in zip(rows, pairs.lengths(rows), strict=True):
        tokens, _ = pairs([row])
        assert length == tokens.input_ids.shape[1]
    sft = SFTCollator(tok, max_length=max_length)
    for row, length in zip(rows, sft.lengths(rows.rename_column("chosen", "response")), strict=True):
        alone = encode_pairs(tok, [row["prompt"]], [row["chosen"]], max_length=max_length)
        assert length == alone.input_ids.shape[1]


def test_grouping_enters_a_model_key_only_when_on(tiny_world):
    plain = config_with(["+experiment=world", "scale=smoke"], pm="s", rm="s")
    grouped = config_with(
        ["+experiment=world", "scale=smoke", "pm.sft.group_by_length=true", "rm.train.group_by_length=true"],
        pm="s",
        rm="s",
    )
    for key in (policy_key, reward_key):
        assert "group_by_length" not in str(key(plain, tiny_world))  # a shuffled model keeps its older key
        assert key(grouped, tiny_world) != key(plain, tiny_world)
