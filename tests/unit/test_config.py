"""The real configs compose for every experiment and scale; bad command lines are one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from seam_exp.cli import CONF_DIR, ConfigError, check, check_config, group_options
from seam_exp.utils import machine
from seam_exp.utils.config import to_dataclass
from seam_exp.world.build import WorldConfig


@pytest.mark.parametrize("experiment", group_options("experiment"))
@pytest.mark.parametrize("scale", group_options("scale"))
def test_every_experiment_composes_at_every_scale(experiment, scale):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"+experiment={experiment}", f"scale={scale}"])
    OmegaConf.resolve(cfg)
    check_config(cfg)  # every shipped config passes the value checks
    assert cfg.task
    assert cfg.scale.name == scale
    if cfg.data.name == "world":  # (paper_rlhf reads the paper's data instead)
        world = to_dataclass(WorldConfig, cfg.data, "data")
        assert world.prompts_per_family == cfg.scale.world.prompts_per_family
    assert cfg.pm.sft.max_steps == cfg.scale.sft_steps  # budget 1.0


def test_budget_scales_the_step_count():
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=world", "scale=default", "pm.sft.budget=0.25"])
    assert cfg.pm.sft.max_steps == round(0.25 * cfg.scale.sft_steps)


@pytest.mark.parametrize("experiment", ["saturation", "selection", "augmentation", "sanity"])
def test_train_seed_sets_both_training_seeds_and_each_can_still_be_set_alone(experiment):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        paired = compose("config", overrides=[f"+experiment={experiment}", "train_seed=3"])
        alone = compose("config", overrides=[f"+experiment={experiment}", "train_seed=3", "rm.train.seed=7"])
    assert (paired.pm.sft.seed, paired.rm.train.seed) == (3, 3)
    assert (alone.pm.sft.seed, alone.rm.train.seed) == (3, 7)
    assert "train_seed=3" in paired.run_name  # runs of other trained models land in their own folders


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], "choose an experiment with +experiment=<name>; valid: "),
        (["+experiment=nope"], "unknown experiment 'nope'; valid: "),
        (["+experiment=world", "pm=xxl"], f"unknown pm 'xxl'; valid: {', '.join(group_options('pm'))}"),
        (["+experiment=world", "pm=xs,zz", "-m"], "unknown pm 'zz'"),
        (["+experiment=seam", "seam/gpt=gtp"], "unknown seam/gpt 'gtp'; valid"),
        (["+experiment=world", "pm.arch.hiden_size=3"], "unknown config key 'pm.arch.hiden_size'"),
        (["+experiment=world", "nonsense=1"], "unknown config key 'nonsense'"),
        (
            ["+experiment=seam", "seam.policy.checkpoint=/runs/pm=s,rm=m/policy"],
            "cannot parse override 'seam.policy.checkpoint=/runs/pm=s,rm=m/policy' (quote a value",
        ),
    ],
)
def test_bad_command_line_is_one_clear_line(args, expected):
    with pytest.raises(ConfigError) as info:
        check(args)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    if "valid:" in expected:
        assert "world" in message or "xs" in message


def test_valid_sweep_passes_the_check():
    check(["+experiment=world", "pm=xs,s", "seed=0,1", "-m"])
    check(
        ["+experiment=seam", "seam.policy.checkpoint='/runs/pm=s,rm=m/policy'"]
    )  # quoted, as the error says


def test_entry_point_exits_nonzero_with_one_line_and_writes_nothing(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "seam_exp", "+experiment=world", "rm=giant", f"paths.outputs={tmp_path}/out"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith(f"error: unknown rm 'giant'; valid: {', '.join(group_options('rm'))}")
    assert not (tmp_path / "out").exists()


def test_unknown_dataclass_field_names_the_key():
    with pytest.raises(ValueError, match="unknown config key 'data.prompts_per_famly'"):
        to_dataclass(WorldConfig, {"prompts_per_famly": 3}, "data")


def test_offline_hub_preset_fails_fast_with_one_line(tmp_path):
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SEAM_EXP_CACHE": str(tmp_path / "cache"),
        "HF_HOME": str(tmp_path / "hf"),
    }  # an empty HF cache: the model cannot be there
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seam_exp",
            "+experiment=sanity",
            "hydra.mode=RUN",
            "scale=smoke",
            "pm=llama2_7b",
            "rm=xs",
            f"paths.outputs={tmp_path}/out",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "error: 'meta-llama/Llama-2-7b-hf' (preset llama2_7b) is not in the local Hugging Face cache"
    )
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "cache").glob("pm/*/MANIFEST.json"))  # nothing half-built left as an artifact


def test_full_scale_is_larger_than_default_in_every_dimension():
    def leaves(scale: str) -> dict:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            node = compose("config", overrides=["+experiment=world", f"scale={scale}"]).scale
        flat = pd.json_normalize(OmegaConf.to_container(node, resolve=True)).iloc[0].to_dict()
        return {k: v for k, v in flat.items() if k != "name"}

    default, full = leaves("default"), leaves("full")
    assert default.keys() == full.keys()
    for key, value in default.items():
        if isinstance(value, list):  # sizes, budgets, seeds, the paper grid: as many points, as far
            assert len(full[key]) >= len(value), key
            if all(isinstance(v, int | float) for v in value + full[key]):
                assert max(full[key]) >= max(value), key
            else:
                assert set(value) <= set(full[key]), key
        else:
            assert full[key] > value, f"scale.{key}: full {full[key]} is not larger than default {value}"


def sweep_params(*overrides: str) -> dict:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    return OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)


def test_a_restricted_size_list_sweeps_exactly_those_sizes():
    check(["+experiment=sanity", "scale.sizes=[m,l]", "train_seed=0,1,2"])
    params = sweep_params("+experiment=sanity", "scale.sizes=[m,l]")
    assert params["pm"] == "l,m"  # largest first
    assert sweep_params("+experiment=saturation", "scale.sizes=[s]") == {"rm": "s", "pm": "s"}
    assert sweep_params("+experiment=augmentation", "scale.sizes=[xs,m]")["pm"] == "m"  # the top cell


def test_a_size_list_written_as_a_sweep_is_refused_with_the_list_form():
    with pytest.raises(ConfigError) as info:
        check(["+experiment=sanity", "scale.sizes=m,l", "-m"])
    assert str(info.value) == (
        "scale.sizes is a list: write scale.sizes=[m,l] (written m,l, Hydra sweeps over its values)"
    )


def test_an_experiments_axes_are_its_own_and_smoke_cuts_them():
    default = sweep_params("+experiment=selection")
    assert (
        default["pm"] == "m,l"
        and default["seed"] == "0,1,2"
        and len(default["selection.method"].split(",")) == 15
    )
    smoke = sweep_params("+experiment=selection", "scale=smoke")
    assert smoke == {
        "pm": "s",
        "rm": "s",
        "seed": "0",
        "selection.method": "full,oracle,random,random_families,perplexity,seam:adv:paper",
    }
    with pytest.raises(
        ConfigError, match=r"^sweep.methods: at scale=smoke the sweep reads sweep.smoke.methods;"
    ):
        check(["+experiment=selection", "scale=smoke", "sweep.methods=[full]"])
    edited = sweep_params("+experiment=selection", "sweep.methods=[full,random]", "scale=full")
    assert edited["selection.method"] == "full,random" and edited["seed"] == "0,1,2,3,4"


@pytest.mark.parametrize(
    "override, expected",
    [
        ("data.labeler.tau=-1", "data.labeler.tau: must be > 0, got -1"),
        ("data.prompts_per_family=abc", "data.prompts_per_family: expected an integer, got 'abc'"),
        ("seam.k=0", "seam.k: must be >= 1, got 0"),
        ("seam.max_prompts=0", "seam.max_prompts: must be >= 1, got 0"),
        ("seam.formula=paperr", "seam.formula: unknown 'paperr'; valid: normalized, paper, paper_prob"),
        ("seam.variants=[contrast,gtp]", "seam.variants: unknown 'gtp'; valid: contrast, gpt, adv"),
        ("rl.steps=-5", "rl.steps: must be >= 1, got -5"),
        ("rl.kl.coef=-0.1", "rl.kl.coef: must be >= 0, got -0.1"),
        ("pm.generation.top_p=0", "pm.generation.top_p: must be in (0,1], got 0.0"),  # typed: a number
        ("pm.arch.hidden_size=97", "pm.arch.hidden_size: must be a multiple of num_attention_heads (4)"),
        ("rm.train.num_pairs=-3", "rm.train.num_pairs: must be >= 0, got -3"),
        ("trainer.num_threads=-1", "trainer.num_threads: must be >= 0, got -1"),
        ("rl.checkpoint_every=-1", "rl.checkpoint_every: must be >= 0, got -1"),
        ("rl.eval.at=[2,0]", "rl.eval.at: must be >= 1, got 0"),
        ("rl.max_loss=abc", "rl.max_loss: expected a number, got 'abc'"),
        (
            "rl.nope=1",
            "unknown config key 'rl.nope'; valid keys under rl: algorithm, checkpoint_every, critic_init, "
            "eval, kl, max_loss, name, optim, ppo, reward, rollout, save_policy, steps",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_its_key(override, expected):
    with pytest.raises(ConfigError) as info:
        check(["+experiment=seam", override])
    assert str(info.value) == expected


def test_rloo_with_one_sample_per_prompt_is_refused_before_any_job():
    # a rule between two keys, held by RLConfig: the sweep point rl=rloo breaks it, not rl=ppo
    with pytest.raises(ConfigError) as info:
        check(["+experiment=saturation", "rl=ppo,rloo", "rl.rollout.samples_per_prompt=1", "-m"])
    assert str(info.value) == "rl.algorithm=rloo needs rl.rollout.samples_per_prompt >= 2 (leave-one-out)"
    check(["+experiment=saturation", "rl=ppo,rloo", "rl.rollout.samples_per_prompt=2", "-m"])


@pytest.mark.parametrize("experiment", ["saturation", "selection", "augmentation", "mismatch"])
def test_rl_under_ddp_is_refused_before_any_work_and_model_training_is_not(experiment):
    with pytest.raises(ConfigError, match=f"trainer: {experiment} runs RL; RL does not run under DDP"):
        check([f"+experiment={experiment}", "trainer=ddp_cpu"])
    check(["+experiment=models", "trainer=ddp_cpu"])
    check([f"+experiment={experiment}", "trainer=cpu", "rl.checkpoint_every=0"])


@pytest.mark.parametrize("experiment", ["seam", "selection", "augmentation", "sanity", "world"])
def test_an_experiment_that_needs_the_world_refuses_other_data_before_any_work(experiment):
    with pytest.raises(ConfigError) as info:
        check([f"+experiment={experiment}", "data=stack_exchange"])
    assert str(info.value) == (
        f"data: {experiment} needs the preference world (its gold formula, labeler or families); "
        "data=stack_exchange runs with models, saturation, score_dataset"
    )
    check(["+experiment=paper_rlhf", "data.source=hub", "data.max_questions=100"])


@pytest.mark.parametrize(
    "override, expected",
    [
        ("data.source=web", "data.source: unknown 'web'; valid: local, hub"),
        ("data.judge.concurrency=0", "data.judge.concurrency: must be >= 1, got 0"),
        ("data.judge.backend=gpt4", "data.judge.backend: unknown 'gpt4'; valid: openai, none"),
        ("data.max_questions=0", "data.max_questions: must be >= 1, got 0"),
    ],
)
def test_a_bad_value_of_the_papers_data_is_one_line(override, expected):
    with pytest.raises(ConfigError) as info:
        check(["+experiment=paper_rlhf", override])
    assert str(info.value) == expected


def test_a_bad_value_in_one_sweep_point_is_caught_before_any_job(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seam_exp",
            "+experiment=world",
            "data.labeler.tau=0.3,0",
            f"paths.outputs={tmp_path}/out",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and proc.stderr == "error: data.labeler.tau: must be > 0, got 0\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("group", ["pm", "rm", "rl", "trainer", "logger"])
def test_every_preset_passes_the_value_checks(group):
    for preset in group_options(group):
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=["+experiment=seam", f"{group}={preset}"])
        OmegaConf.resolve(cfg)
        check_config(cfg)


def test_architecture_values_are_checked_for_models_built_here_only():
    with pytest.raises(ConfigError, match="pm.arch.num_hidden_layers: must be >= 1, got 0"):
        check(["+experiment=world", "pm.arch.num_hidden_layers=0"])
    check(["+experiment=seam", "pm=smollm2_135m"])  # a packaged model brings its own architecture


@pytest.mark.parametrize(
    "cores, memory_gib, jobs",
    [(2, 23.4, 2), (16, 64.0, 16), (16, 12.0, 6), (1, 8.0, 1), (8, 1.0, 1)],
)
def test_the_local_launcher_runs_one_job_per_core_as_memory_allows(monkeypatch, cores, memory_gib, jobs):
    monkeypatch.setattr(machine, "usable_cores", lambda: cores)
    monkeypatch.setattr(machine, "physical_memory_gib", lambda: memory_gib)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=saturation"], return_hydra_config=True)
    assert cfg.hydra.launcher.n_jobs == jobs


def test_the_machine_reports_its_cores_and_memory_even_without_an_affinity_call(monkeypatch):
    assert machine.usable_cores() >= 1 and machine.physical_memory_gib() > 0
    monkeypatch.delattr(machine.os, "sched_getaffinity")
    assert machine.usable_cores() == (os.cpu_count() or 1)


def test_each_pm_size_runs_its_own_rl_recipe_and_an_override_still_wins():
    from seam_exp.experiments import config_with
    from seam_exp.rl.config import rl_config

    def recipe(pm, *overrides):
        rl = rl_config(config_with(["+experiment=world", *overrides], pm=pm, rm="l").rl)
        return rl.optim.lr, rl.kl.coef

    chosen, unchosen = recipe("l"), recipe("xs")
    assert chosen != unchosen  # PM l's recipe was chosen on validation (conf/pm/l.yaml), xs's not yet
    assert recipe("l", "rl=rloo") == chosen
    assert recipe("l", "rl.optim.lr=3e-4", "rl.kl.coef=0.01") == (3e-4, 0.01)


@pytest.mark.parametrize("rm", ["xs", "s", "m", "l"])
def test_the_online_refresh_continues_the_rm_at_a_tenth_of_its_own_rate(rm):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=online_verdict", f"rm={rm}"])
    assert cfg.online.refresh.lr == pytest.approx(0.1 * cfg.rm.train.lr, rel=1e-12)


def test_a_product_of_rates_reads_as_written():
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=online_verdict", "rm=l", "rm.train.lr=3.75e-4"])
    assert repr(cfg.online.refresh.lr) == "3.75e-05"  # not 3.7500000000000003e-05, in run names and tables
