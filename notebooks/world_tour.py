# %% [markdown]
# # A tour of the preference world
# Run cell by cell in VS Code / Jupyter (jupytext percent format), or as a script:
# `.venv/bin/python notebooks/world_tour.py`. It builds (or loads from the cache) the default world,
# shows a few prompts with responses of every kind and their gold scores, and the labeler at work.

# %%
import numpy as np

from seam_exp.utils.cache import ArtifactCache
from seam_exp.world.build import WorldConfig, load_world
from seam_exp.world.responses import KINDS, make_response

world = load_world(WorldConfig(prompts_per_family=400), ArtifactCache(".cache/seam_exp"))
print(world.data)

# %% Responses of every kind to one prompt per family, with their gold reward and its parts
rng = np.random.default_rng(0)
prompts = world.data["eval"].to_pandas().groupby("family").head(1)
other = world.problems[int(world.data["rl"]["prompt_id"][0])]
for pid in prompts["prompt_id"]:
    p = world.problems[int(pid)]
    print(f"\n### {p.family}: {p.question}")
    for kind in KINDS:
        y = make_response(kind, p, world.families[p.family], rng, other=other)
        parts = world.components(int(pid), y)
        print(f"{kind:>10}  g={world.gold([int(pid)], [y])[0]:5.2f}  C={parts['correct']:.2f}  {y!r}")

# %% The labeler: how often it agrees with gold as tau varies
from seam_exp.world.summary import labeler_agreement  # noqa: E402

print(labeler_agreement(world).to_string(index=False))
