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


def test_each_distinct_notebook_runs_once_and_every_role_shares_it(tiny_reports):
    """The tiny run's four roles list 12 distinct notebooks (analyst: 00-11; ceo,
    marketing, sales: some of them, in Russian): 12 executions, not one per role and
    language. Pages of one execution carry the same Papermill start time and the same
    figures drawn outside the views (the analyst-only charts of 06 and 07)."""
    by_role = {(r.role, r.notebook): r for r in tiny_reports.results}
    notebooks = {nb for _, nb in by_role}
    assert len(notebooks) == 12
    manifest = json.loads(tiny_reports.manifest_path.read_text(encoding="utf-8"))
    assert manifest["executions"] == len(notebooks)
    for notebook in notebooks:
        results = [r for (_, nb), r in by_role.items() if nb == notebook]
        roles = sorted(r.role for r in results)
        started = {
            nbformat.read(r.ipynb, as_version=4).metadata["papermill"]["start_time"]
            for r in results
        }
        assert len(started) == 1, notebook
        assert all(sorted(r.execution_roles) == roles for r in results), notebook
        entries = [e for e in manifest["notebooks"] if e["notebook"] == notebook]
        assert all(sorted(e["execution_roles"]) == roles for e in entries), notebook
    for notebook in ("06_attribution.ipynb", "07_ab_tests.ipynb"):
        marketing = _figures(by_role["marketing", notebook].ipynb)
        assert marketing, f"{notebook} drew no figure"
        assert marketing == _figures(by_role["analyst", notebook].ipynb), notebook


def _headings(html_path) -> list[tuple[int, str]]:
    """(level, text) of the page's ``<h1>``-``<h3>`` headings, in order."""
    import html
    import re

    text = html_path.read_text(encoding="utf-8")
    found = re.findall(r"<h([1-3])[^>]*>(.*?)</h\1>", text, re.S)
    return [(int(level), html.unescape(re.sub(r"<[^>]+>", "", h)).strip()) for level, h in found]


CYRILLIC = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")


@pytest.mark.parametrize(
    ("notebook", "roles"),
    [
        ("06_attribution.ipynb", ["marketing"]),
        ("07_ab_tests.ipynb", ["marketing"]),
        ("09_weekly_summary.ipynb", ["ceo", "marketing", "sales"]),
        ("10_marketing_drilldown.ipynb", ["marketing"]),
        ("11_sales_call_list.ipynb", ["sales"]),
    ],
)
def test_each_role_page_shows_only_its_own_view(tiny_reports, notebook, roles):
    """One execution renders the Russian leadership pages and the English analyst page:
    every heading of a Russian page has a Cyrillic letter, none of the analyst page's
    has one, and each page has exactly one ``<h1>`` of its own view (the analyst page
    also the notebook's English Markdown title): no other role's or language's section
    leaks onto a page. The Russian pages of 09 have three different titles (ceo,
    marketing, sales: role-dependent)."""
    by_role = {r.role: r for r in tiny_reports.results if r.notebook == notebook}
    assert all(r.status == "ok" for r in by_role.values()), notebook
    titles = []
    for role in roles:
        headings = _headings(by_role[role].html)
        assert headings, (role, notebook)
        assert all(CYRILLIC & set(text.lower()) for _, text in headings), (role, headings)
        h1 = [text for level, text in headings if level == 1]
        assert len(h1) == 1, (role, h1)
        titles.append(h1[0])
    assert len(set(titles)) == len(roles)
    analyst = _headings(by_role["analyst"].html)
    assert not any(CYRILLIC & set(text.lower()) for _, text in analyst), analyst
    # the notebook's Markdown title (with nbconvert's anchor ¶) and its English view's
    assert len([text for level, text in analyst if level == 1]) == 2, analyst


def test_the_call_list_is_written_per_role_in_its_language(tiny_reports):
    """11 runs once for sales (ru) and analyst (en) and writes each role's CSV beside its
    page: Russian headers with ``;`` (Russian Excel), English headers with ``,``."""
    folder = tiny_reports.index_path.parent
    russian = (folder / "sales" / "call_list.csv").read_text(encoding="utf-8-sig")
    english = (folder / "analyst" / "call_list.csv").read_text(encoding="utf-8-sig")
    header_ru, header_en = russian.splitlines()[0], english.splitlines()[0]
    assert header_ru.startswith("Заявка;") and "," not in header_ru
    assert header_en.startswith("Lead,") and ";" not in header_en
    assert len(russian.splitlines()) == len(english.splitlines())  # the same leads


def test_the_run_trains_the_scoring_model_once(tiny_reports, tiny_models):
    """05 (analyst) and 11 (one execution for analyst and sales) run in parallel with no
    saved model: the first trains and saves one model (under ``load_or_train``'s file
    lock), the other loads it."""
    scoring = [
        r
        for r in tiny_reports.results
        if r.notebook in ("05_lead_scoring.ipynb", "11_sales_call_list.ipynb")
    ]
    assert len(scoring) == 3 and all(r.status == "ok" for r in scoring)
    assert len(list(tiny_models.glob("lead_scoring_*.skops"))) == 1


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
