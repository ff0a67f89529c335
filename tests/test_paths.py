"""Where the package finds params/: project folder, else bundled defaults, else one line."""

from __future__ import annotations

import filecmp

import pytest

from analytics import paths


def test_bundled_defaults_are_copies_of_the_repository_params():
    """The package data must not drift from params/*.yaml (roles need the notebooks of a
    checkout and are not bundled). After editing params/: cp params/*.yaml
    src/analytics/default_params/"""
    names = sorted(p.name for p in (paths.ROOT / "params").glob("*.yaml"))
    assert sorted(p.name for p in paths.BUNDLED_PARAMS.glob("*.yaml")) == names
    for name in names:
        same = filecmp.cmp(paths.BUNDLED_PARAMS / name, paths.ROOT / "params" / name, shallow=False)
        assert same, f"src/analytics/default_params/{name} differs from params/{name}"


def test_params_file_falls_back_to_the_bundled_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    assert paths.params_file("channels.yaml") == paths.BUNDLED_PARAMS / "channels.yaml"
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "channels.yaml").write_text("rules: []\n", encoding="utf-8")
    assert paths.params_file("channels.yaml") == tmp_path / "params" / "channels.yaml"


def test_a_parameter_file_found_nowhere_says_how_to_set_the_project(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"pass --project DIR or set ANALYTICS_HOME=DIR"):
        paths.params_file("definitions_nobody_bundles.yaml")


def test_set_project_moves_every_path(tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_HOME", str(paths.ROOT))
    saved = paths.ROOT
    try:
        root = paths.set_project(tmp_path)
        assert root == tmp_path.resolve()
        assert paths.DEFAULT_WAREHOUSE == tmp_path.resolve() / "data" / "warehouse.duckdb"
        assert paths.PARAMS_DIR == paths.BUNDLED_PARAMS  # no params/ in tmp_path
    finally:
        paths._set(saved)
    with pytest.raises(NotADirectoryError, match="project folder not found"):
        paths.set_project(tmp_path / "missing")
