"""Every notebook runs as an analyst opens it in JupyterLab: kernel in notebooks/, defaults.

Its own module (not ``test_notebooks.py``, whose tests share the session's weekly
run) so that pytest-xdist runs these executions on another worker than that run.
"""

from pathlib import Path

import nbformat
import pytest

from analytics.paths import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


@pytest.fixture(scope="module")
def tiny_project(tiny_warehouse, tmp_path_factory):
    """A project folder (``ANALYTICS_HOME``) whose ``data/warehouse.duckdb`` is the tiny demo."""
    from analytics.paths import PARAMS_DIR

    home = tmp_path_factory.mktemp("home")
    (home / "data").mkdir()
    (home / "data" / "warehouse.duckdb").symlink_to(tiny_warehouse)
    (home / "params").symlink_to(PARAMS_DIR)
    (home / "notebooks").symlink_to(NOTEBOOKS_DIR)
    return home


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_as_opened_in_jupyterlab(path, tiny_project, monkeypatch):
    """Run as an analyst would: kernel started in notebooks/, default parameters, no Papermill.

    The committed defaults (``warehouse = "data/warehouse.duckdb"``) must resolve from the
    project root, not from the kernel's working folder ``notebooks/``; the project root
    here is ``ANALYTICS_HOME`` so that the tiny warehouse stands in for the demo one.
    """
    from nbclient import NotebookClient

    monkeypatch.setenv("ANALYTICS_HOME", str(tiny_project))
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import os\nprint(os.getcwd())"))
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert errors == []
    assert any(out.get("output_type") in ("display_data", "execute_result") for out in outputs)
    cwd = notebook.cells[-1].outputs[0]["text"].strip()
    assert Path(cwd).resolve() == NOTEBOOKS_DIR.resolve()  # not the project root
