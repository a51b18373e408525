"""RL fine-tuning of a policy against a frozen reward model (PPO or RLOO), judged by gold.

- `run`: one RLHF run (`rl_finetune`): loads the cached models, builds the module and the Trainer.
- `module`: `RLHFModule`, the Lightning module: rollout, rewards, advantages, minibatch updates.
- `rollout`: sampling and the response-aligned batch layout; `critic`: PPO's value model;
  `reward_normalizer`: RM score normalization; `config`: the typed `rl` config.
- The math, on tensors only: `tensor_ops` (masked statistics, finiteness), `advantages` (per-token
  rewards, GAE, leave-one-out), `losses` (KL estimate, clipped policy and value losses), `kl_control`.
- `evaluation`: gold-judged evaluation of the policy during RL and its Lightning callback.
- Reading finished runs: `paired` (two runs on the same eval samples), `kl_budget` (each run's checkpoint for
  a KL budget, chosen on validation prompts).
- `resume`: the prompt schedule, checkpoints every `rl.checkpoint_every` steps, and continuing a stopped
  run from its checkpoint (`resume=true`).
"""
