"""Every notebook runs under Papermill on the tiny demo warehouse and is committed clean."""

import json

import nbformat
import pytest

from analytics.paths import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
PARAMETERS = ("warehouse", "period")  # role only where a page depends on it


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_under_papermill(path, tiny_reports, tiny_warehouse):
    """The analyst role runs every notebook (papermill, via the report runner)."""
    results = [r for r in tiny_reports.results if r.role == "analyst" and r.notebook == path.name]
    assert len(results) == 1, f"{path.name} is not in the analyst role"
    result = results[0]
    assert result.status == "ok", result.error
    executed = nbformat.read(result.ipynb, as_version=4)
    errors = [
        out
        for cell in executed.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert errors == []
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and str(tiny_warehouse) in injected[0].source
    assert executed.metadata["papermill"]["exception"] in (None, False)


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


def _figures(ipynb) -> list[str]:
    notebook = nbformat.read(ipynb, as_version=4)
    return [
        out["data"]["image/png"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if "data" in out and "image/png" in out["data"]
    ]


def test_shared_notebooks_run_once_and_give_both_roles_the_same_figures(tiny_reports):
    """ceo and analyst ask for the same notebooks with the same parameters: one execution each.

    A notebook that declares ``locale`` is a role's own page (its language and
    tiles), executed once per role; every other notebook is shared.
    """
    by_role = {(r.role, r.notebook): r for r in tiny_reports.results}
    per_role = {nb for _, nb in by_role if _takes_locale(nb)}
    manifest = tiny_reports.manifest_path.read_text(encoding="utf-8")
    expected = len({nb for _, nb in by_role} - per_role) + sum(nb in per_role for _, nb in by_role)
    assert json.loads(manifest)["executions"] == expected
    shared = sorted(
        nb
        for role, nb in by_role
        if role == "ceo" and ("analyst", nb) in by_role and nb not in per_role
    )
    for notebook in shared:
        ceo = _figures(by_role["ceo", notebook].ipynb)
        analyst = _figures(by_role["analyst", notebook].ipynb)
        assert ceo, f"{notebook} drew no figure"
        assert ceo == analyst, notebook
        assert (
            by_role["ceo", notebook].execute_seconds == by_role["analyst", notebook].execute_seconds
        )


def test_the_run_trains_the_scoring_model_once(tiny_reports, tiny_models):
    """05 (analyst) and 11 (analyst, sales) run in parallel with no saved model: the first
    trains and saves one model (under ``load_or_train``'s file lock), the others load it."""
    scoring = [
        r
        for r in tiny_reports.results
        if r.notebook in ("05_lead_scoring.ipynb", "11_sales_call_list.ipynb")
    ]
    assert len(scoring) == 3 and all(r.status == "ok" for r in scoring)
    assert len(list(tiny_models.glob("lead_scoring_*.skops"))) == 1


def _takes_locale(name: str) -> bool:
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    return "locale = " in cell.source


def test_leadership_pages_carry_no_personal_data(tiny_reports, tiny_demo):
    """No phone, e-mail or their hashes on the pages of a role with hidden code."""
    import re

    leads = tiny_demo.tables["leads"]
    people = {str(v) for v in leads["email"].dropna()} | {
        re.sub(r"\D", "", str(v))[-10:] for v in leads["phone"].dropna()
    }
    pages = [r.html for r in tiny_reports.results if r.role == "ceo"]
    assert pages
    for page in pages:
        html = re.sub(r"data:[^\"')\s]+", "", page.read_text(encoding="utf-8"))  # no images
        digits = re.sub(r"\D", "", html)
        assert not re.search(r"\b[0-9a-f]{64}\b", html), f"{page.name}: a hash is shown"
        assert not any(p in html for p in people if "@" in p), page.name
        assert not any(p in digits for p in people if "@" not in p and len(p) == 10), page.name


def _without_version(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "jupytext_version:" not in line)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_text_twin_is_in_sync(path):
    """Each notebook has a py:percent twin (``notebooks/scripts/``) that reviews can diff.

    ``make pair`` rewrites the twins; this fails when a notebook changed without it.
    """
    import jupytext

    notebook = jupytext.read(path)
    assert notebook.metadata["jupytext"]["formats"] == "ipynb,scripts//py:percent"
    twin = NOTEBOOKS_DIR / "scripts" / f"{path.stem}.py"
    assert twin.is_file(), f"{twin} missing: run `make pair`"
    expected = jupytext.writes(notebook, fmt="py:percent")
    assert _without_version(twin.read_text(encoding="utf-8")) == _without_version(expected), (
        f"{twin.name} is out of date: run `make pair`"
    )
