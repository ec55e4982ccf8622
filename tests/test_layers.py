"""The house's layers, read from the imports: edges -> use cases -> core -> ground; plugins -> ground only.

A module may import from its own layer and the layers below it, never above.
The edges (the CLI, HTTP) reach the database only through use cases: no
SQLAlchemy, no ``gateway.storage``. The plugins (rails, currencies) are
built on the ground alone, so a third party's plugin needs nothing else.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EDGES = ("gateway.cli", "gateway.http", "gateway.web")
USECASES = ("gateway.usecases",)
CORE = ("gateway.core",)
PLUGINS = ("adapters", "currencies")
LAYERS = [EDGES, USECASES, CORE]  # top to bottom; everything else under gateway/ is the ground


def layer_of(module: str) -> int:
    """0 for the edges, 1 use cases, 2 core, 3 the ground, 4 the plugins."""
    for depth, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return depth
    if module.split(".")[0] in PLUGINS:
        return 4
    return 3


def modules(root: Path) -> list[tuple[str, Path]]:
    found = []
    for top in ("gateway", *PLUGINS):
        for path in sorted((root / top).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def imports_of(root: Path, module: str, path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import, relative ones resolved, including those inside functions."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, target))
            # ``from gateway import x`` imports the module gateway.x where there is one
            found += [
                (node.lineno, f"{target}.{alias.name}")
                for alias in node.names
                if (root / target.replace(".", "/") / alias.name).exists()
            ]
    return found


def breaches(root: Path = ROOT) -> list[str]:
    found = []
    for module, path in modules(root):
        if "migrations" in module.split("."):
            continue  # Alembic's scripts: the ground's own
        mine = layer_of(module)
        for line, target in imports_of(root, module, path):
            where = f"{path.relative_to(root)}:{line}: {module} imports {target}"
            top = target.split(".")[0]
            if top not in ("gateway", *PLUGINS, "sqlalchemy"):
                continue
            if mine == 0 and (top == "sqlalchemy" or target.startswith("gateway.storage")):
                found.append(f"{where} (an edge reaches the database only through use cases)")
            elif top == "sqlalchemy":
                continue
            elif mine == 4 and top == "gateway" and layer_of(target) != 3:
                found.append(f"{where} (a plugin builds on the ground only)")
            elif mine < 4 and layer_of(target) < mine:
                found.append(f"{where} (an import points up)")
    return found


def test_imports_point_down_only():
    assert breaches() == []


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("gateway/core/sneaky.py", "from gateway.usecases.flattr import flattr\n"),
        ("gateway/http/sneaky.py", "from sqlalchemy import select\n"),
        ("gateway/cli/sneaky.py", "def f():\n    from gateway.storage.engine import reading\n"),
        ("adapters/sneaky.py", "from gateway.core.ledger import post\n"),
        ("gateway/storage/sneaky.py", "from ..usecases import flattr\n"),
    ],
)
def test_the_check_names_an_import_that_points_up(source, text, tmp_path):
    """The check itself can fail: each of these, in a tree of its own, is named."""
    for package in ("gateway", "gateway/core", "gateway/usecases", "gateway/storage", "gateway/http", "gateway/cli", "adapters"):
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "gateway/usecases/flattr.py").write_text("")
    (tmp_path / source).write_text(text)
    assert [breach for breach in breaches(tmp_path) if source in breach]
