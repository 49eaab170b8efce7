"""Packaging: one import namespace, every package listed, configs shipped, README commands true."""
from __future__ import annotations

import re
import tomllib

from conftest import REPO


def test_every_package_is_listed():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        base = REPO / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert found == listed, f"add to pyproject packages: {sorted(found - listed)}; stale: {sorted(listed - found)}"


def test_one_namespace():
    import neuroemu.backends
    import neuroemu.calibration
    import neuroemu.hardware_configs

    for mod in (neuroemu.backends, neuroemu.calibration, neuroemu.hardware_configs):
        assert mod.__name__.startswith("neuroemu.")


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    m = re.search(r"<!-- test-command -->\s*```(?:bash|sh)?\n(.+?)\n```", readme, re.S)
    assert m, "README lacks the marked test command"
    command = m.group(1).strip()
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert command in ci, "CI runs a command other than README's"
    assert command.index("ruff check .") < command.index("python -m pytest"), "lint runs before the tests"
