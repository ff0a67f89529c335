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
