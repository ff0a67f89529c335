"""The packages whose names load on first use (``analytics.lazy_exports``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import analytics.attribution
import analytics.reports
import analytics.scoring


def test_importing_the_packages_does_not_import_their_heavy_dependencies():
    """A notebook kernel importing the packages for one name pays for no model or
    rendering library (a fresh interpreter, as a kernel is)."""
    code = (
        "import sys, analytics.scoring, analytics.reports, analytics.attribution\n"
        "print(sorted(m for m in ('sklearn', 'skops', 'nbconvert', 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("package", [analytics.scoring, analytics.reports, analytics.attribution])
def test_every_public_name_loads_from_its_module(package):
    import importlib

    for name, module in package._EXPORTS.items():
        assert getattr(package, name) is getattr(importlib.import_module(module), name)
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match=rf"module '{package.__name__}' has no attribute"):
        package.no_such_name  # noqa: B018


def test_readme_what_is_where_names_every_module():
    """README's "What is where" names every module of the package in its folder's row
    (issue 11: "README's What is where lists every module"): the files on disk are the
    reference, so a new module without a line in the README fails here."""
    from analytics.paths import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What is where", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| `")]
    package = ROOT / "src" / "analytics"
    unnamed = []
    for module in sorted(package.rglob("*.py")):
        if module.name == "__init__.py":
            continue
        folder = module.parent.relative_to(ROOT).as_posix() + "/"
        if module.parent == package:  # top-level modules: named in the first cell
            named = any(
                f"`{module.name}`" in path or f"/{module.name}`" in path for path, _ in rows
            )
        else:
            named = any(f"`{folder}`" in path and f"`{module.stem}" in what for path, what in rows)
        if not named:
            unnamed.append(module.relative_to(package).as_posix())
    assert rows and not unnamed, f"not in README's What is where: {unnamed}"


def test_no_module_name_twice_in_the_package():
    """No two modules of the package share a file name (issue 11: "no two modules with
    the same name in two layers"), so ``paths`` or ``funnel`` always means one thing."""
    from collections import Counter

    from analytics.paths import ROOT

    names = Counter(
        module.name
        for module in (ROOT / "src" / "analytics").rglob("*.py")
        if module.name not in ("__init__.py", "__main__.py")
    )
    assert names and not [name for name, count in names.items() if count > 1]
