"""environment.yml lists exactly the requirements of pyproject.toml."""

from __future__ import annotations

import tomllib

import yaml

from analytics import paths


def _normalise(req: str) -> str:
    return req.replace(" ", "").lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_normalise(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_normalise(r) for r in extra}
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_normalise(r) for r in pip_section if not r.startswith("-e")}
    assert listed == wanted, {"missing": wanted - listed, "extra": listed - wanted}
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]
    assert project["requires-python"] == ">=3.11"


def test_schema_doc_is_current():
    from analytics.warehouse import schema

    doc = (paths.ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert doc == schema.schema_markdown(), "run `python -m analytics schema-doc`"
