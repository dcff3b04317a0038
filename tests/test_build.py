"""The trained model's cache key covers all the code that shapes the model."""

import ast
from pathlib import Path
from typing import Set

import yaml

from deescalate.tools.build import MODEL_INPUTS, ROOT


def module_file(module: str) -> Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def our_imports(path: Path) -> Set[str]:
    """The deescalate modules a file imports (a `from package import name` counts the module or the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(n for n in names if n.split(".")[0] == "deescalate" and module_file(n).exists())
    return found


def modules_the_model_runs() -> Set[str]:
    """The config's components and policies, and what they import, transitively."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    steps = config["pipeline"] + config["policies"]
    todo = {step["name"].rsplit(".", 1)[0] for step in steps if step["name"].startswith("deescalate.")}
    seen: Set[str] = set()
    while todo:
        module = todo.pop()
        seen.add(module)
        todo |= our_imports(module_file(module)) - seen
    return seen


def covered(path: Path) -> bool:
    relative = path.relative_to(ROOT).as_posix()
    return any(relative == name or relative.startswith(name.rstrip("/") + "/") for name in MODEL_INPUTS)


def test_every_module_the_trained_pipeline_runs_is_part_of_the_models_inputs():
    modules = modules_the_model_runs()
    assert "deescalate.textnorm" in modules and "deescalate.digits" in modules  # the walk does follow imports
    missing = sorted(m for m in modules if not covered(module_file(m)))
    assert not missing, f"a change to these would not retrain the model: {missing}"


def test_the_data_beside_a_module_the_model_runs_is_part_of_the_models_inputs():
    """A module's own table (homophones.py reads homophones.yml) shapes the model as its code does."""
    tables = [module_file(m).with_suffix(".yml") for m in modules_the_model_runs()]
    tables = [t for t in tables if t.exists()]
    assert any(t.name == "homophones.yml" for t in tables)
    missing = sorted(t.relative_to(ROOT).as_posix() for t in tables if not covered(t))
    assert not missing, f"a change to these would not retrain the model: {missing}"
