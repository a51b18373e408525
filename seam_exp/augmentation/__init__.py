"""SEAM-guided augmentation of the PM and the RM (docs/augmentation.md).

arms.py picks the RL instructions an arm augments and data.py turns them into extra SFT samples and
preference pairs with Contrast Instructions. The models train on them through the project's own path:
seam_exp/models/datamodule.py holds the original and the augmented rows for Lightning, and
seam_exp/models/train.py trains (or fetches from the cache) the augmented SFT policy and reward model,
keyed by the augmented rows.
"""
