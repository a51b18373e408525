"""adv: the worse answers of a prompt are seeded perturbations of its reference answer (seam.adv)."""

from __future__ import annotations

from collections.abc import Sequence

from seam_exp.seam import adv
from seam_exp.seam.candidates import Worse, WorseAnswerBuilder, prompt_rng
from seam_exp.utils.cache import code_version
from seam_exp.world.build import World


def world_names(world: World) -> list[str]:
    """Names a `name` edit may swap in: the world's countries and capitals, so a swap stays plausible."""
    return sorted({*world.facts.entities, *world.facts.values_of("capital")})


class AdvBuilder(WorseAnswerBuilder):
    variant = "adv"

    def __init__(self, rate: float, ops: Sequence[str] = adv.ALL_OPS, attempts: int = 8):
        if not 0 < rate <= 1:
            raise ValueError(f"adv rate must be in (0, 1], got {rate}")
        unknown = [op for op in ops if op not in adv.ALL_OPS]
        if unknown or not ops:
            raise ValueError(f"unknown adv op {unknown[:1]}; valid: {', '.join(adv.ALL_OPS)}")
        self.rate, self.ops, self.attempts = float(rate), list(ops), attempts

    def settings(self) -> dict:
        return {"rate": self.rate, "ops": self.ops, "attempts": self.attempts, "code": code_version(adv)}

    def build(self, world: World, prompt_ids: Sequence[int], k: int, seed: int) -> dict[int, list[Worse]]:
        names = world_names(world)
        out: dict[int, list[Worse]] = {}
        for pid in prompt_ids:
            ref = world.problems[int(pid)].reference
            seen, worse = {ref}, []
            for slot in range(k):
                # Short references admit few distinct edits at a low rate: redraw a few times, then accept.
                for attempt in range(self.attempts):
                    rng = prompt_rng(seed, int(pid), f"adv/{slot}/{attempt}")
                    text, edits = adv.perturb_with_edits(ref, self.rate, rng, self.ops, names)
                    if text not in seen:
                        break
                seen.add(text)
                prov = {"rate": self.rate, "edits": [[e.op, e.before, e.after] for e in edits]}
                worse.append(Worse(text, prov))
            out[int(pid)] = worse
        return out
