"""The rows one model trains on, as a Lightning data module: its split of the world, plus the augmented rows
an augmentation arm adds (docs/augmentation.md), shuffled together by a seeded generator, or drawn in
batches of similar length when the recipe groups by length (docs/performance.md, "Length-grouped batches";
under DDP, Lightning's distributed sampler splits the draws between the processes)."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import ConcatDataset, DataLoader
from transformers.trainer_pt_utils import LengthGroupedSampler

from seam_exp.errors import UserError


class TrainingDataModule(pl.LightningDataModule):
    def __init__(
        self,
        rows,
        collate,
        batch_size: int,
        seed: int,
        augmented=None,
        validation=None,
        group_by_length=False,
    ):
        super().__init__()
        self.rows, self.augmented, self.validation = rows, augmented, validation
        self.collate, self.batch_size, self.seed = collate, batch_size, seed
        self.group_by_length = group_by_length

    @property
    def train_set(self):
        """The original rows, then the augmented ones (the collators read only the columns both have)."""
        if self.augmented is None or not len(self.augmented):
            return self.rows
        return ConcatDataset([self.rows, self.augmented])

    def epochs_for(self, max_steps: int) -> int:
        """How many passes `max_steps` optimizer steps make (the last one partial): the epoch count the
        progress bar shows (an unbounded count would print as `Epoch 3/-2`)."""
        batches = max(1, -(-len(self.train_set) // self.batch_size))
        return max(1, -(-max_steps // batches))

    def per_process_batch(self) -> int:
        """Under DDP each process loads its share of the batch, so the global batch is batch_size."""
        processes = self.trainer.world_size if self.trainer is not None else 1
        if self.batch_size % processes:
            raise UserError(f"batch_size {self.batch_size} does not split evenly over {processes} processes")
        return self.batch_size // processes

    def row_lengths(self) -> list[int]:
        """Each training row's unpadded token count, in train_set's order."""
        parts = [self.rows] if self.augmented is None else [self.rows, self.augmented]
        return [n for part in parts for n in self.collate.lengths(part)]

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        batch_size = self.per_process_batch()
        if not self.group_by_length:
            return DataLoader(
                self.train_set,
                batch_size=batch_size,
                shuffle=True,
                collate_fn=self.collate,
                generator=generator,
            )
        # transformers' sampler: a seeded permutation cut into megabatches of up to 50 batches, each sorted
        # by length (longest first), so a batch holds rows of similar length and every pass reshuffles
        sampler = LengthGroupedSampler(batch_size, lengths=self.row_lengths(), generator=generator)
        return DataLoader(self.train_set, batch_size=batch_size, sampler=sampler, collate_fn=self.collate)

    def val_dataloader(self) -> DataLoader:
        """The held-out rows in their stored order (an empty list when there are none: no validation)."""
        if self.validation is None or not len(self.validation):
            return []
        return DataLoader(self.validation, batch_size=self.per_process_batch(), collate_fn=self.collate)
