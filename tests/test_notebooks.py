"""Every report notebook runs under Papermill on the tiny demo warehouse and is committed clean."""

import nbformat
import papermill
import pytest

from analytics.paths import NOTEBOOKS_DIR, ROOT

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
PARAMETERS = ("warehouse", "period", "role")


@pytest.fixture(scope="module")
def warehouse(tiny_warehouse):
    """The tiny demo company (synth, ~20k visits) loaded by the real loader."""
    return tiny_warehouse


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_under_papermill(path, warehouse, tmp_path):
    output = tmp_path / path.name
    papermill.execute_notebook(
        str(path),
        str(output),
        parameters={"warehouse": str(warehouse), "period": "last-week", "role": "analyst"},
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
    )
    executed = nbformat.read(output, as_version=4)
    errors = [
        out
        for cell in executed.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert errors == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_clean(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert "papermill" not in notebook.metadata
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"outputs committed in cell {cell.get('id')}"
            assert cell.execution_count is None, f"execution count in cell {cell.get('id')}"
        assert "injected-parameters" not in cell.metadata.get("tags", [])
    parameter_cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameter_cells) == 1
    for name in PARAMETERS:
        assert f"{name} = " in parameter_cells[0].source
    assert notebook.cells[0].cell_type == "markdown"
    assert notebook.cells[0].source.startswith("# ")
