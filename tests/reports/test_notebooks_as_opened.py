"""Every notebook runs as an analyst opens it in JupyterLab: kernel in notebooks/, defaults.

Its own module (not ``test_notebooks.py``, whose tests share the session's weekly
run) so that pytest-xdist runs these executions on another worker than that run.

All notebooks run one after another in ONE kernel (nbclient, no Papermill), each
after ``%reset -f``, as an analyst running them in turn in one JupyterLab session
would: the namespace is emptied between notebooks (a name a notebook forgets to
define or import fails there), while imported modules stay loaded, so the twelve
runs cost one kernel start and one set of imports instead of twelve.
"""

from pathlib import Path

import nbformat
import pytest

from analytics.paths import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
ORIGIN = "as_opened_notebook"
"""Cell metadata key naming the notebook a cell of the combined run comes from."""


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


@pytest.fixture(scope="module")
def as_opened(tiny_project):
    """The code cells of every notebook after one run in one kernel started in notebooks/,
    with the committed default parameters, by notebook name; each notebook ends with a
    cell printing the kernel's working folder."""
    from nbclient import NotebookClient

    combined = nbformat.v4.new_notebook()
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        cells = [nbformat.v4.new_code_cell("%reset -f")]
        cells += [cell for cell in notebook.cells if cell.cell_type == "code"]
        cells.append(nbformat.v4.new_code_cell("import os\nprint(os.getcwd())"))
        for cell in cells:
            cell.metadata[ORIGIN] = path.name
        combined.cells.extend(cells)
    combined.metadata = nbformat.read(NOTEBOOKS[0], as_version=4).metadata
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANALYTICS_HOME", str(tiny_project))
        NotebookClient(
            combined,
            timeout=600,
            kernel_name="python3",
            allow_errors=True,  # one notebook's error must not hide the others' results
            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
        ).execute()
    runs: dict[str, list] = {}
    for cell in combined.cells:
        runs.setdefault(cell.metadata[ORIGIN], []).append(cell)
    return runs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_as_opened_in_jupyterlab(path, as_opened):
    """Run as an analyst would: kernel started in notebooks/, default parameters, no Papermill.

    The committed defaults (``warehouse = "data/warehouse.duckdb"``) must resolve from the
    project root, not from the kernel's working folder ``notebooks/``; the project root
    here is ``ANALYTICS_HOME`` so that the tiny warehouse stands in for the demo one.
    """
    cells = as_opened[path.name]
    outputs = [out for cell in cells for out in cell.outputs]
    errors = [
        f"{out.get('ename')}: {out.get('evalue')}" for out in outputs if out.output_type == "error"
    ]
    assert errors == []
    assert any(out.get("output_type") in ("display_data", "execute_result") for out in outputs)
    cwd = cells[-1].outputs[0]["text"].strip()
    assert Path(cwd).resolve() == NOTEBOOKS_DIR.resolve()  # not the project root


@pytest.mark.parametrize(
    "path", [p for p in NOTEBOOKS if p.name != "00_start_here.ipynb"], ids=lambda p: p.name
)
def test_opened_by_hand_a_notebook_shows_one_page(path, as_opened):
    """Without the runner, ``views`` is None: one page in the parameters' language.

    Every section marked for a view names the committed default ``locale`` (09-11:
    ru; the others: en) and the page has exactly one ``<h1>`` (its title), not one per
    role or language.
    """
    import re

    notebook = nbformat.read(path, as_version=4)
    parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    locale = re.search(r'^locale = "(\w+)"', parameters.source, re.M).group(1)
    outputs = [out for cell in as_opened[path.name] for out in cell.outputs]
    marked = [
        out.metadata["analytics_view"]
        for out in outputs
        if "analytics_view" in out.get("metadata", {})
    ]
    assert marked and {view["locale"] for view in marked} == {locale}
    html = "".join(str(out.get("data", {}).get("text/html", "")) for out in outputs)
    assert html.count("<h1") == 1, path.name
