"""No import runs upward: each package of seam_exp imports only the packages below it (README, Layout), and
no import closes a cycle, between packages or between modules."""

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
    "data": set(),
    "world": {"data", "utils", "metrics", "errors"},
    "paper_data": {"data", "utils", "errors"},
    # The one module that chooses a run's data: above both sources, which never import each other.
    "data_source": {"world", "paper_data", "utils", "errors"},
    "models": {"data", "world", "metrics", "utils", "errors"},
    "rl": {"models", "data", "world", "metrics", "utils", "errors"},
    "seam": {"models", "data", "world", "metrics", "utils", "errors"},
    "selection": {"seam", "models", "data", "world", "metrics", "utils", "errors"},
    "augmentation": {"selection", "seam", "models", "data", "world", "metrics", "utils", "errors"},
    "reporting": {"metrics", "utils", "errors"},
    # SEAM along an RL run: it watches rl's runs, computes seam's scores and re-drops by selection's rule
    "online": {"rl", "selection", "seam", "models", "data", "world", "metrics", "utils", "errors"},
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


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    where = ROOT.parent.joinpath(*name.split("."))
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def _module_imports(path: Path) -> set[str]:
    """The seam_exp modules a file imports; an import inside a function counts, since it runs too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("seam_exp.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "seam_exp":
            for alias in node.names:  # `from seam_exp.models import batching` imports a module
                name = f"{node.module}.{alias.name}"
                found.add(name if _is_module(name) else node.module)
    return found - {"seam_exp"}


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """One cycle for each edge back into the path of a depth-first walk: none when the graph has none."""
    state: dict[str, str] = {}
    path: list[str] = []
    found = []

    def visit(node: str) -> None:
        state[node] = "on path"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "on path":
                found.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_module_imports_itself_through_others():
    """A cycle imports a half-initialised module, or hides behind a lazy import; two modules that need
    each other's pieces share them through a third."""
    graph = {_module_of(p): _module_imports(p) - {_module_of(p)} for p in sorted(ROOT.rglob("*.py"))}
    cycles = _cycles(graph)
    assert not cycles, "\n".join(cycles)


def test_no_package_imports_itself_through_others():
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        package = path.relative_to(ROOT).with_suffix("").parts[0]
        graph.setdefault(package, set()).update(_imports(path) - {package})
    cycles = _cycles(graph)
    assert not cycles, "\n".join(cycles)
