"""No import runs upward: each package of seam_exp imports only the packages below it (README, Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

import seam_exp

ROOT = Path(seam_exp.__file__).parent
# package -> the seam_exp packages (and top-level modules) it may import besides itself
ALLOWED = {
    "errors": set(),
    "utils": {"errors"},
    "metrics": set(),
    "world": {"utils", "metrics", "errors"},
    "models": {"world", "metrics", "utils", "errors"},
    "rl": {"models", "world", "metrics", "utils", "errors"},
    "seam": {"models", "world", "metrics", "utils", "errors"},
    "selection": {"seam", "models", "world", "metrics", "utils", "errors"},
    "augmentation": {"selection", "seam", "models", "world", "metrics", "utils", "errors"},
    "reporting": {"metrics", "utils", "errors"},
}
# The bench measures everything below it, the experiments included (their config composition and setup);
# it is the top, so nothing imports it (test_nothing_imports_the_bench).
ALLOWED["bench"] = {"experiments", *ALLOWED}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "seam_exp":
            found |= {a.name for a in node.names}  # from seam_exp import experiments
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seam_exp."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("seam_exp.")}
    return found


def test_no_import_runs_upward():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        package = parts[0]
        if package not in ALLOWED:
            continue  # experiments/ and the top-level modules (__main__, cli, ...): anything but the bench
        for target in _imports(path) - {package}:
            if target not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports seam_exp.{target}")
    assert not wrong, "\n".join(wrong)


def test_every_package_is_placed():
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages - {"experiments"} <= set(ALLOWED)


def test_nothing_imports_the_bench():
    wrong = [
        f"{path.relative_to(ROOT)} imports seam_exp.bench"
        for path in sorted(ROOT.rglob("*.py"))
        if path.relative_to(ROOT).parts[0] != "bench" and "bench" in _imports(path)
    ]
    assert not wrong, "\n".join(wrong)
