"""The tree's layers: the product never imports the lab, and the OCF toolkit knows nothing of
the agents built on it.

Read with ast, not by importing: every import counts, lazy ones inside functions too (those are
exactly the ones a run of the product would hit late, on a node without the lab).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("fractal_service", "resource_agents")
LAB = ("cluster", "benchmarks", "tests")
# The toolkit under resource_agents/ocf: records, metrics and cloud calls plug in from outside.
TOOLKIT = "resource_agents/ocf"
NOT_IN_TOOLKIT = ("resource_agents.agents", "resource_agents.geo", "resource_agents.metrics",
                  "resource_agents.openstack", "fractal_service")


def modules(package: str) -> list[Path]:
    found = sorted((ROOT / package).rglob("*.py"))
    assert found, f"no module under {package}/"  # a moved package must not pass unread
    return found


def imports_in(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, at any depth; `package` is
    the module's package, against which relative imports resolve."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield node.lineno, base
            # `from cluster import crm_mon` imports a module by its last name: check both
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def imported(path: Path) -> Iterator[tuple[int, str]]:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    yield from imports_in(path.read_text(), package)


def offending(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{line}: {name}"
            for p in paths for line, name in imported(p)
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_never_imports_the_lab(package: str) -> None:
    assert offending(modules(package), LAB) == []


def test_the_ocf_toolkit_knows_nothing_of_the_agents() -> None:
    assert offending(modules(TOOLKIT), NOT_IN_TOOLKIT) == []


def test_the_check_sees_lazy_and_relative_imports() -> None:
    # The checker itself must fail where it should: an import inside a function, a relative
    # one, a module imported by name from its package.
    source = ("def f():\n    from cluster import crm_mon\n"
              "from ..metrics import record\nimport benchmarks.exporter as b\n")
    names = [name for _, name in imports_in(source, "resource_agents.ocf")]
    assert {"cluster.crm_mon", "resource_agents.metrics.record", "benchmarks.exporter"} <= set(
        names)
