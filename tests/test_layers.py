"""The layers are readable from the imports: each package imports only the layers below it, and no
module reaches for another module's private names.

    cli                      the composition root: may import everything
    flows                    orchestration: pathwise, ml, rag, agents
    apps                     what people and platforms read: pathwise, rag, agents (content
                             briefs and the learning-path agent run live)
    agents                   the agent layer: pathwise only (not the models: it reads their tables)
    ml, rag                  models and course Q&A: pathwise only
    pathwise                 the shared base: nothing of ours above it

The agent layer also reads only marts and ML tables (besides its own and the reference seeds), never raw events or dbt's staging and
intermediate models ("agents work with aggregated signals, not raw behavioral trails").
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pathwise.settings import PROJECT_ROOT

ALLOWED = {
    "pathwise": {"pathwise"},
    "ml": {"pathwise", "ml"},
    "rag": {"pathwise", "rag"},
    "apps": {"pathwise", "rag", "agents", "apps"},
    "agents": {"pathwise", "agents"},
    "flows": {"pathwise", "ml", "rag", "agents", "flows"},
    "cli": {"pathwise", "ml", "rag", "apps", "agents", "flows", "cli"},
}
OURS = set(ALLOWED)


def modules(package: str) -> list[Path]:
    return sorted((PROJECT_ROOT / package).rglob("*.py"))


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import in the file, lazy ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return found


def _allowed(module: str, layers: set[str]) -> bool:
    """`module` is in one of `layers` (a package, or one sub-package of it such as agents.paths)."""
    return any(module == layer or module.startswith(f"{layer}.") for layer in layers)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(package):
    wrong = [
        f"{path.relative_to(PROJECT_ROOT)}:{line} imports {module}"
        for path in modules(package)
        for module, _, line in imports(path)
        if module.split(".")[0] in OURS and not _allowed(module, ALLOWED[package])
    ]
    assert wrong == []


def test_no_module_imports_a_private_name_of_another():
    wrong = []
    for package in sorted(ALLOWED):
        for path in modules(package):
            for module, names, line in imports(path):
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                if module.split(".")[0] in OURS and private:
                    wrong.append(f"{path.relative_to(PROJECT_ROOT)}:{line} {module} {private}")
    assert wrong == []


# `from <schema>.<table>` / `join <schema>.<table>` in SQL text, and dbt's layer prefixes.
TABLE_REF = re.compile(r"\b(?:from|join)\s+(?:warehouse\.)?\"?([a-z_]+)\"?\.", re.IGNORECASE)
LOWER_LAYERS = re.compile(r"\b(?:raw\.|stg_|base_pathwise|int_[a-z]+_)")


def test_agents_read_only_marts_and_ml_tables():
    wrong = []
    for path in modules("agents"):
        text = re.sub(r"(?m)^\s*from\s+\S+\s+import\b.*$", "", path.read_text())  # Python's own
        schemas = {m.group(1).lower() for m in TABLE_REF.finditer(text)}
        # its own tables (agents.*), reference seeds (O*NET) and the catalog are no behavioural trail
        allowed = {"marts", "ml", "agents", "reference", "information_schema"}
        wrong += [f"{path.name} reads schema {s}" for s in sorted(schemas - allowed)]
        wrong += [f"{path.name} names {m.group(0)}" for m in LOWER_LAYERS.finditer(text)]
    assert modules("agents"), "the agent layer is missing"
    assert wrong == []


def test_every_layer_is_installed_with_the_package(tmp_path):
    """The `pathwise` command runs from anywhere: each layer must be in the installed package
    (pyproject's packages.find), not only importable from the repository's root."""
    import subprocess
    import sys

    code = "import " + ", ".join(sorted(ALLOWED))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()[-500:]
