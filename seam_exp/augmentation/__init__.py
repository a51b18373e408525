"""SEAM-guided augmentation of the PM and the RM (docs/augmentation.md).

arms.py picks the RL instructions an arm augments, data.py turns them into extra SFT samples and
preference pairs with Contrast Instructions, datamodule.py holds the original and the augmented rows for
Lightning, and models.py trains (or fetches from the cache) the augmented SFT policy and reward model.
"""
