"""Tests for analytics.reports: role files, the parallel runner and offline HTML."""

import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import duckdb
import nbformat
import pytest
from funnel_fixture import build_warehouse
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from analytics.metrics import snapshot as snapshot_module
from analytics.paths import NOTEBOOKS_DIR, ROOT
from analytics.reports import external_references, load_role, render_html, run_reports
from analytics.reports.roles import RoleConfigError, available_roles
from analytics.reports.runner import (
    by_expected_time,
    declared_parameters,
    notebook_parameters,
    previous_execute_seconds,
)
from analytics.warehouse.schema import CANONICAL

GOOD_ROLE = """\
title: Test report
audience: Testers
hide_code: true
notebooks: [01_funnel_overview.ipynb]
recipients: [qa@example.com]
"""


def write_role(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def failing_notebook(path: Path) -> Path:
    return small_notebook(
        path, 'role = "x"', 'raise RuntimeError("deliberate failure for the test")'
    )


def small_notebook(path: Path, parameters: str, *code: str) -> Path:
    """A notebook with the given ``parameters`` cell and code cells."""
    notebook = new_notebook(
        cells=[
            new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            *(new_code_cell(source) for source in code),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path


# --- role files ------------------------------------------------------------------------


def test_project_roles_load():
    assert set(available_roles()) >= {"ceo", "marketing", "sales", "analyst"}
    for name in ("ceo", "marketing", "sales", "analyst"):
        role = load_role(name)
        assert role.hide_code is (name != "analyst")
        assert NOTEBOOKS_DIR / "09_weekly_summary.ipynb" in role.notebooks  # the summary page
        assert all(nb.is_file() for nb in role.notebooks)
        assert role.recipients and role.title and role.audience
    # the analyst gets every notebook; leadership gets no data-quality or model internals
    assert set(load_role("analyst").notebooks) == set(NOTEBOOKS_DIR.glob("*.ipynb"))
    for name in ("ceo", "marketing", "sales"):
        assert NOTEBOOKS_DIR / "03_data_quality.ipynb" not in load_role(name).notebooks


def test_good_role_file(tmp_path):
    write_role(tmp_path, "qa", GOOD_ROLE)
    role = load_role("qa", roles_dir=tmp_path)
    assert role.name == "qa"
    assert role.hide_code is True
    assert role.recipients == ("qa@example.com",)
    assert role.source == tmp_path / "qa.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD_ROLE + "colour: blue\n", "unknown key 'colour'"),
        (GOOD_ROLE.replace("audience: Testers\n", ""), "missing key 'audience'"),
        (GOOD_ROLE.replace("hide_code: true", 'hide_code: "no"'), "'hide_code'"),
        (GOOD_ROLE.replace("[01_funnel_overview.ipynb]", "[]"), "'notebooks'"),
        (
            GOOD_ROLE.replace("01_funnel_overview.ipynb", "99_missing.ipynb"),
            "key 'notebooks'.*99_missing.ipynb does not exist",
        ),
        (
            GOOD_ROLE.replace("qa@example.com", "qa-at-example.com"),
            "key 'recipients'.*bad e-mail address 'qa-at-example.com'",
        ),
        (GOOD_ROLE.replace("title: Test report", "title: ''"), "key 'title'"),
        (GOOD_ROLE + "period: fortnight\n", "key 'period'.*fortnight"),
        (GOOD_ROLE + "period: [1]\n", "key 'period' must be a string"),
        (GOOD_ROLE + "warehouse: ''\n", "key 'warehouse'"),
        (GOOD_ROLE + "parameters: [1, 2]\n", "key 'parameters' must be a mapping"),
        (GOOD_ROLE + "parameters: {period: all}\n", "'period' is set by the runner"),
        (GOOD_ROLE + "parameters: {2x: 1}\n", "'2x' is not a parameter name"),
        ("- just\n- a list\n", "expected a mapping"),
        ("title: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_role_file_error_names_file_and_key(tmp_path, text, expected):
    path = write_role(tmp_path, "bad", text)
    with pytest.raises(ValueError, match=expected) as info:
        load_role("bad", roles_dir=tmp_path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, RoleConfigError)


def test_missing_role_file_lists_known_roles(tmp_path):
    write_role(tmp_path, "qa", GOOD_ROLE)
    with pytest.raises(ValueError, match=r"nope\.yaml not found.*qa"):
        load_role("nope", roles_dir=tmp_path)
    with pytest.raises(ValueError, match="bad role name"):
        load_role("../ceo", roles_dir=tmp_path)


def test_notebooks_may_be_absolute_paths(tmp_path):
    notebook = failing_notebook(tmp_path / "failing.ipynb")
    write_role(tmp_path, "abs", GOOD_ROLE.replace("01_funnel_overview.ipynb", str(notebook)))
    assert load_role("abs", roles_dir=tmp_path).notebooks == (notebook,)


def test_runner_fails_fast_on_bad_inputs(tmp_path):
    warehouse = build_warehouse(tmp_path / "wh.duckdb")
    with pytest.raises(FileNotFoundError, match=r"warehouse .*missing\.duckdb does not exist"):
        run_reports(
            ["ceo"], warehouse=tmp_path / "missing.duckdb", out_dir=tmp_path, progress=False
        )
    with pytest.raises(ValueError, match="accepted forms"):
        run_reports(["ceo"], period="fortnight", warehouse=warehouse, out_dir=tmp_path)
    assert not (tmp_path / "2025-W23").exists()


# --- rendering -------------------------------------------------------------------------

PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6"
    "kgAAAABJRU5ErkJggg=="
)


def executed_notebook(path: Path, extra_html: str = "") -> Path:
    """A notebook with hand-made outputs (no kernel needed)."""
    cells = [
        new_markdown_cell("# Report"),
        new_code_cell('period = "last-week"', metadata={"tags": ["parameters"]}),
        new_code_cell(
            "plot_revenue()",
            outputs=[
                new_output("stream", name="stderr", text="UserWarning: careful\n"),
                new_output("display_data", data={"image/png": PNG_1PX, "text/plain": "<Figure>"}),
            ],
        ),
        new_code_cell(
            "show_raw_frames()",
            metadata={"tags": ["analyst-only"]},
            outputs=[new_output("stream", name="stdout", text="raw frame\n")],
        ),
        new_code_cell("con.close()"),
    ]
    if extra_html:
        cells.append(
            new_code_cell(
                "show_html()",
                outputs=[new_output("display_data", data={"text/html": extra_html})],
            )
        )
    nbformat.write(new_notebook(cells=cells), path)
    return path


def test_render_hides_code_for_leadership(tmp_path):
    notebook = executed_notebook(tmp_path / "report.ipynb")
    hidden = render_html(notebook, tmp_path / "ceo" / "report.html", hide_code=True, title="CEO")
    shown = render_html(notebook, tmp_path / "analyst" / "report.html", hide_code=False)
    ceo, analyst = hidden.read_text(encoding="utf-8"), shown.read_text(encoding="utf-8")
    assert "<title>CEO</title>" in ceo
    assert "<title>report</title>" in analyst
    assert "plot_revenue" not in ceo and "plot_revenue" in analyst
    assert "raw frame" not in ceo and "raw frame" in analyst  # analyst-only cell
    assert "careful" not in ceo and "careful" in analyst  # stderr
    assert "last-week" not in ceo  # parameters cell
    for page in (ceo, analyst):
        assert f"data:image/png;base64,{PNG_1PX}" in page
        assert external_references(page) == []
        assert "<script" not in page


def test_a_reused_exporter_renders_each_page_as_a_new_one_would(tmp_path):
    """render_html keeps one exporter per view and language in a process (its templates are
    compiled once); a page rendered after others is byte for byte what a new
    exporter (make_exporter) writes, in both views, and hides what the CEO must not see."""
    from analytics.reports.render import REPORT_CSS, make_exporter

    first = executed_notebook(tmp_path / "first.ipynb", "<p>first page only</p>")
    second = executed_notebook(tmp_path / "second.ipynb")
    for hide in (True, False):
        render_html(first, tmp_path / f"first-{hide}.html", hide_code=hide, title="T", locale="ru")
        page = render_html(second, tmp_path / f"second-{hide}.html", hide_code=hide, title="T")
        resources = {"metadata": {"name": "T", "path": str(tmp_path)}, "report_css": REPORT_CSS}
        alone, _ = make_exporter(hide, "en").from_notebook_node(
            nbformat.read(second, as_version=4), resources=resources
        )
        text = page.read_text(encoding="utf-8")
        assert text == alone
        assert "first page only" not in text and ('lang="en"' in text)
        assert ("plot_revenue" in text) is not hide


def test_exporters_share_compiled_templates_and_render_the_same_page(tmp_path, monkeypatch):
    """The exporters keep their compiled Jinja templates in a bytecode cache (folder
    ``tmp_path`` here): the first exporter compiles and stores them, a second one of
    another view and language loads them and compiles nothing, and each page is the
    same string as one rendered without any cache (nbconvert's own way)."""
    import jinja2

    from analytics.reports.render import REPORT_CSS, make_exporter

    notebook = executed_notebook(tmp_path / "executed.ipynb")
    resources = {"metadata": {"name": "x", "path": str(tmp_path)}, "report_css": REPORT_CSS}

    def page(hide: bool, locale: str, cache) -> str:
        exporter = make_exporter(hide, locale)
        exporter.environment.bytecode_cache = cache
        body, _ = exporter.from_notebook_node(
            nbformat.read(notebook, as_version=4), resources=dict(resources)
        )
        return body

    compiled = []
    compile_template = jinja2.Environment.compile

    def counted(self, *args, **kwargs):
        compiled.append(1)
        return compile_template(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    plain = {view: page(*view, None) for view in ((True, "ru"), (False, "en"))}
    compiled.clear()
    cache = jinja2.FileSystemBytecodeCache(str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    assert page(True, "ru", cache) == plain[True, "ru"]
    assert compiled and list((tmp_path / "cache").iterdir())  # compiled once, then stored
    compiled.clear()
    assert page(False, "en", cache) == plain[False, "en"]
    assert page(True, "ru", cache) == plain[True, "ru"]
    assert compiled == []  # both loaded from the cache


def test_render_refuses_outside_resources(tmp_path):
    notebook = executed_notebook(
        tmp_path / "cdn.ipynb", '<script src="https://cdn.example.com/plotly.js"></script>'
    )
    with pytest.raises(ValueError, match="https://cdn.example.com/plotly.js"):
        render_html(notebook, tmp_path / "cdn.html", hide_code=True)
    assert not (tmp_path / "cdn.html").exists()


def test_external_references_finds_fetched_resources_only():
    page = """
    <link rel="stylesheet" href="//cdn.example.com/a.css">
    <a href="https://example.com/docs">docs</a>
    <img src="data:image/png;base64,AAAA"><img src="figure.png">
    <img srcset="https://img.example.com/x.png 1x, local.png 2x">
    <style>@import "https://fonts.example.com/f.css"; b{background:url(https://i.example.com/r.png)}</style>
    <script type="module">import m from "https://esm.example.com/m.js";</script>
    <div style="background: url(//s.example.com/t.png)"></div>
    <script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>
    """
    assert external_references(page) == [
        "//cdn.example.com/a.css",
        "https://img.example.com/x.png",
        "https://fonts.example.com/f.css",
        "https://i.example.com/r.png",
        "https://esm.example.com/m.js",
        "//s.example.com/t.png",
        "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js",
    ]


# --- a full run ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """ceo + analyst on the hand-made warehouse, plus a role whose notebook fails."""
    base = tmp_path_factory.mktemp("runner")
    warehouse = build_warehouse(base / "warehouse.duckdb")
    notebook = failing_notebook(base / "failing.ipynb")
    # declares the ceo role's extra parameter (params/roles/ceo.yaml: target_growth);
    # it does not read the snapshot, so it may start before the snapshot is computed:
    # it leaves a marker the snapshot waits for (test_notebooks_without_the_snapshot_...)
    growth = small_notebook(
        base / "growth.ipynb",
        'role = "x"\ntarget_growth = 0.0  # fraction\nlead_visits = None',
        "import os, pathlib\npathlib.Path(os.environ['RUNNER_TEST_MARKER']).touch()",
        "print(f'growth {target_growth}')",
        "print(f'lead visits {lead_visits}')",
    )
    write_role(
        base / "roles", "broken", GOOD_ROLE.replace("01_funnel_overview.ipynb", str(notebook))
    )
    # the project's ceo and analyst roles, cut to the funnel notebook to keep the run short
    first = (NOTEBOOKS_DIR / "01_funnel_overview.ipynb",)
    roles = [
        replace(load_role("ceo"), notebooks=(*first, growth), title="Weekly funnel — CEO"),
        replace(
            load_role("analyst"),
            notebooks=first,
            title="Weekly funnel — analyst view",
            parameters={},  # its target_growth is for notebook 02, cut here
        ),
        load_role("broken", roles_dir=base / "roles"),
    ]
    out_dir = base / "reports"
    marker = base / "growth-started"
    build_snapshot = snapshot_module.build_snapshot

    def after_the_growth_notebook_started(*args, **kwargs):
        """The real snapshot, computed once growth.ipynb has started (60 s at most)."""
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        SNAPSHOT_STARTED_AFTER_GROWTH.append(marker.exists())
        SNAPSHOT_LEAD_VISITS.append(kwargs.get("lead_visits"))
        return build_snapshot(*args, **kwargs)

    # two workers for three executions (the CI machine has two cores): one spawned
    # process fewer to start than one per execution
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUNNER_TEST_MARKER", str(marker))
        patch.setattr(snapshot_module, "build_snapshot", after_the_growth_notebook_started)
        summary = run_reports(roles, warehouse=warehouse, out_dir=out_dir, jobs=2, progress=False)
    return summary, out_dir / "2025-W23", warehouse


SNAPSHOT_STARTED_AFTER_GROWTH: list[bool] = []
"""Filled by the ``run`` fixture: whether growth.ipynb had started when the snapshot began."""
SNAPSHOT_LEAD_VISITS: list = []
"""Filled by the ``run`` fixture: the ``lead_visits`` mart the snapshot was given."""


def test_the_run_writes_the_leads_visits_once_for_the_snapshot_and_the_notebooks(run):
    """The mart of the leads' visits (design note 54) is written before the snapshot and
    passed to it and to the notebook declaring ``lead_visits`` (growth.ipynb), which does
    not wait for the snapshot. funnel_fixture's leads point to v0 v1 v3 v4 v5 v7 (L4 has no
    visit, L6's v_missing is not in visits): 6 rows."""
    import pyarrow.parquet as pq

    _, folder, _ = run
    mart = folder / "marts" / "lead_visits.parquet"
    assert sorted(pq.read_table(mart).column("visit_id").to_pylist()) == [
        "v0",
        "v1",
        "v3",
        "v4",
        "v5",
        "v7",
    ]
    assert [Path(p) for p in SNAPSHOT_LEAD_VISITS] == [mart]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["lead_visits"]["path"] == "marts/lead_visits.parquet"
    assert manifest["lead_visits"]["error"] is None
    growth = nbformat.read(folder / "ceo" / "growth.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in growth.cells for o in c.get("outputs", []))
    assert f"lead visits {mart}" in printed


def test_notebooks_without_the_snapshot_start_while_it_is_computed(run):
    """growth.ipynb and failing.ipynb do not declare ``snapshot``: the runner starts one of
    them (two workers, one core left to the snapshot's thread) before the snapshot is
    computed, whose computation here waits for growth's marker. A runner that computed the
    snapshot first would have waited the whole 60 s for it in vain."""
    summary, folder, _ = run
    assert SNAPSHOT_STARTED_AFTER_GROWTH == [True]
    assert (folder / "ceo" / "growth.html").is_file()
    # the notebook reading the snapshot still got the one of this run
    assert json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["period"]


def test_run_records_the_failure_and_renders_the_others(run):
    summary, folder, _ = run
    assert summary.ok is False
    assert len(summary.failures) == 1
    failure = summary.failures[0]
    assert (failure.role, failure.notebook) == ("broken", "failing.ipynb")
    assert failure.error.startswith("RuntimeError: deliberate failure for the test")
    assert "\n" not in failure.error
    assert summary.outputs == [
        folder / "ceo" / "01_funnel_overview.html",
        folder / "ceo" / "growth.html",
        folder / "analyst" / "01_funnel_overview.html",
    ]
    assert "FAILED broken/failing.ipynb: RuntimeError" in summary.text
    assert (folder / "broken" / "failing.ipynb").is_file()  # kept for debugging


def test_html_is_self_contained(run):
    summary, _, _ = run
    for page in summary.outputs:
        html = page.read_text(encoding="utf-8")
        assert external_references(html) == []
        if page.stem == "01_funnel_overview":
            assert "data:image/png;base64," in html  # figures embedded
        assert "<script src" not in html


def test_ceo_page_hides_code_and_analyst_page_shows_it(run):
    summary, folder, _ = run
    ceo = (folder / "ceo" / "01_funnel_overview.html").read_text(encoding="utf-8")
    analyst = (folder / "analyst" / "01_funnel_overview.html").read_text(encoding="utf-8")
    assert "period_snapshot(" not in ceo
    assert "period_snapshot" not in ceo  # code is syntax-highlighted token by token
    assert 'class="jp-InputArea jp-Cell-inputArea"><div class="jp-InputPrompt' not in ceo
    assert "One funnel for marketing and sales" not in ceo  # analyst-only cells removed
    assert "period_snapshot" in analyst
    assert "One funnel for marketing and sales" in analyst
    # the hand-computed spend of the week, formatted by each role's locale (Babel)
    assert "21\u00a0000\u00a0₽" in ceo
    assert "RUB\u00a021,000" in analyst
    # the page title is the notebook's first heading (computed in the role's language),
    # so the index can list it
    assert "<title>Воронка: визиты → лиды → MQL → SQL → продажи</title>" in ceo
    assert "<title>Funnel: visits → leads → MQL → SQL → sales</title>" in analyst
    for page in (ceo, analyst):
        assert re.search(r"<meta[^>]*name=\"viewport\"", page) and "width=device-width" in page
    assert '<html lang="ru">' in ceo  # params/roles/ceo.yaml: locale: ru
    assert '<html lang="en">' in analyst


def test_pages_link_to_the_index_and_the_roles_other_pages(run):
    _, folder, _ = run
    page = folder / "ceo" / "01_funnel_overview.html"
    text = page.read_text(encoding="utf-8")
    nav = re.search(r'<nav class="report-nav".*?</nav>', text, re.S).group(0)
    assert '<a href="../index.html">Все отчёты</a>' in nav  # ceo is in Russian
    assert '<span aria-current="page">Воронка' in nav  # itself, not a link
    for link in re.findall(r'href="([^"]+)"', nav):
        assert (page.parent / unquote(link)).is_file(), link


def test_notebooks_get_absolute_warehouse_and_the_spec(run):
    _, folder, warehouse = run
    executed = nbformat.read(folder / "ceo" / "01_funnel_overview.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert repr(str(warehouse)) in injected[0].source or f'"{warehouse}"' in injected[0].source
    assert '"last-week"' in injected[0].source
    assert repr(str(folder / "metrics.json")) in injected[0].source or (
        f'"{folder / "metrics.json"}"' in injected[0].source
    )
    # 01 does not declare role: one execution serves every role
    assert "role = " not in injected[0].source


def test_each_notebook_and_parameters_pair_runs_once(run):
    """ceo (ru) and analyst (en) both ask for 01, which declares ``views``: one execution
    renders both pages; it gets both pages as ``views`` and the first page's locale, and
    each role's notebook keeps only its language's outputs."""
    summary, folder, _ = run
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    # 01 for ceo (ru) and analyst (en) together, ceo's growth, the broken one
    assert manifest["executions"] == 3
    for role in ("ceo", "analyst"):
        injected = _injected(folder / role / "01_funnel_overview.ipynb")
        assert 'views = [["ceo", "ru"], ["analyst", "en"]]' in injected, role
        assert 'locale = "ru"' in injected, role
    shared = [e for e in manifest["notebooks"] if e["notebook"] == "01_funnel_overview.ipynb"]
    assert [e["execution_roles"] for e in shared] == [["ceo", "analyst"]] * 2
    # the funnel page's heading in each language (params/roles: ceo ru, analyst en)
    ceo = _output_text(folder / "ceo" / "01_funnel_overview.ipynb")
    analyst = _output_text(folder / "analyst" / "01_funnel_overview.ipynb")
    assert "Воронка: визиты" in ceo and "Funnel: visits" not in ceo
    assert "Funnel: visits" in analyst and "Воронка: визиты" not in analyst


def _output_text(ipynb: Path) -> str:
    """Every text/html and text/plain output of an executed notebook, joined."""
    executed = nbformat.read(ipynb, as_version=4)
    return "\n".join(
        str(out.get("data", {}).get(mime, ""))
        for cell in executed.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        for mime in ("text/html", "text/plain")
    )


def test_roles_of_one_language_share_a_localised_notebook(tmp_path):
    """A notebook that declares ``locale`` but not ``views``: two roles of one language
    share one execution of it, two languages get one each; 01 (which declares ``views``)
    is one execution for all three (no notebook is run here)."""
    from analytics.reports.runner import _executions

    localised = small_notebook(tmp_path / "localised.ipynb", 'locale = "en"  # language')
    shared = {"warehouse": "w.duckdb", "period": "last-week", "snapshot": "metrics.json"}

    def roles(notebook):
        ceo = replace(load_role("ceo"), notebooks=(notebook,), parameters={})
        sales = replace(load_role("sales"), notebooks=(notebook,), parameters={})
        analyst = replace(load_role("analyst"), notebooks=(notebook,), parameters={})
        assert (ceo.locale, sales.locale, analyst.locale) == ("ru", "ru", "en")
        return [ceo, sales, analyst]

    tasks = _executions(roles(localised), tmp_path, shared)
    assert sorted(sorted(p.role for p in t.pages) for t in tasks) == [["analyst"], ["ceo", "sales"]]
    assert sorted(t.parameters["locale"] for t in tasks) == ["en", "ru"]
    tasks = _executions(roles(NOTEBOOKS_DIR / "01_funnel_overview.ipynb"), tmp_path, shared)
    assert [[p.role for p in t.pages] for t in tasks] == [["ceo", "sales", "analyst"]]
    assert tasks[0].parameters["views"] == [["ceo", "ru"], ["sales", "ru"], ["analyst", "en"]]


def test_run_writes_the_snapshot_and_the_index_reads_it(run):
    """Booked W23 of funnel_fixture (its docstring): revenue 150 777, ROMI 618.0 %, CAC 7 000."""
    _, folder, _ = run
    data = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert data["metrics"]["revenue"]["value"] == pytest.approx(150_777.0)
    assert (folder / "marts" / "metric_values.parquet").is_file()
    index = (folder / "index.html").read_text(encoding="utf-8")
    # the index is in Russian (the ceo role is), figures by Babel: no-break spaces
    assert '<td data-metric="revenue">150\u00a0777\u00a0₽</td>' in index
    assert '<td data-metric="romi">618,0\u00a0%</td>' in index
    assert '<td data-metric="cac">7\u00a0000\u00a0₽</td>' in index
    assert ">Выручка</th>" in index


def recomputed_fingerprint(path: Path) -> str:
    """The documented fingerprint, recomputed here with plain DuckDB and hashlib.

    sha256 of one line per canonical table, ``<table>:<rows>|<min time>|<max time>``
    (``<table>:<rows>`` for a table without a time column), first 16 hex digits.
    """
    con = duckdb.connect(str(path), read_only=True)
    try:
        lines = []
        for table in CANONICAL.values():
            if table.time_column:
                rows, low, high = con.execute(
                    f'SELECT count(*), min("{table.time_column}")::VARCHAR, '
                    f'max("{table.time_column}")::VARCHAR FROM main."{table.name}"'
                ).fetchone()
                lines.append(f"{table.name}:{rows}|{low}|{high}")
            else:
                (rows,) = con.execute(f'SELECT count(*) FROM main."{table.name}"').fetchone()
                lines.append(f"{table.name}:{rows}")
    finally:
        con.close()
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def test_manifest(run):
    summary, folder, warehouse = run
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert summary.manifest_path == folder / "manifest.json"
    assert manifest["ok"] is False
    assert manifest["period"] == {
        "spec": "last-week",
        "label": "2025-W23",
        "start": "2025-06-02",
        "end": "2025-06-08",
        "anchor": "2025-06-10",
    }
    assert manifest["params"]["roles"] == ["ceo", "analyst", "broken"]
    assert manifest["params"]["warehouse"] == str(warehouse)
    assert manifest["warehouse"] == {
        "path": str(warehouse),
        "fingerprint": recomputed_fingerprint(warehouse),
        "method": "analytics.warehouse.fingerprint",
    }
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if head.returncode == 0:  # a git checkout (CI and development)
        assert manifest["git_commit"] == head.stdout.strip()
        assert re.fullmatch(r"[0-9a-f]{40}", manifest["git_commit"])
    else:  # an unpacked release: no commit, said as null
        assert manifest["git_commit"] is None
    assert manifest["python"].count(".") == 2
    for package in ("pandas", "duckdb", "papermill", "nbconvert"):
        assert manifest["packages"][package]
    statuses = {(n["role"], n["notebook"]): n for n in manifest["notebooks"]}
    assert statuses[("ceo", "01_funnel_overview.ipynb")]["status"] == "ok"
    assert statuses[("analyst", "01_funnel_overview.ipynb")]["html"] == (
        "analyst/01_funnel_overview.html"
    )
    broken = statuses[("broken", "failing.ipynb")]
    assert broken["status"] == "failed"
    assert broken["error"].startswith("RuntimeError")
    assert all(n["seconds"] > 0 for n in manifest["notebooks"])


def test_index_links_resolve(run):
    summary, folder, _ = run
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert summary.index_path == folder / "index.html"
    links = re.findall(r'href="([^"]+)"', index)
    assert "ceo/01_funnel_overview.html" in links
    assert "analyst/01_funnel_overview.html" in links
    for link in links:
        assert not link.startswith(("/", "http")), link
        assert (folder / unquote(link)).is_file(), link
    assert "RuntimeError: deliberate failure for the test" in index
    assert external_references(index) == []
    assert '<meta name="viewport"' in index
    # titles, not file names: the notebook's heading and the role's title
    assert ">Funnel: visits → leads → MQL → SQL → sales</a>" in index
    assert ">01_funnel_overview</a>" not in index
    assert "Weekly funnel — CEO" in index


def test_a_second_run_for_another_role_is_merged_into_the_period(
    run, tmp_path_factory, monkeypatch
):
    """Two ``report`` runs for different roles into one period folder: both listed.

    The second run's notebook is a one-cell one (what is tested is the merge of the
    manifest and the index, not the page; the first run executed notebook 01). Its
    snapshot is the first run's (same warehouse, same week), read back from the folder and
    written again, not computed a second time (~3 s of CPU)."""
    from analytics.metrics import snapshot as snapshot_module

    summary, folder, warehouse = run
    first_snapshot = snapshot_module.load_snapshot(folder)

    def same_week(path, period, out_dir=None, definitions=None, backend=None, lead_visits=None):
        assert (Path(path), period.label) == (warehouse, "2025-W23")
        written = snapshot_module.write_snapshot(first_snapshot, Path(out_dir) / period.label)
        return first_snapshot, written

    monkeypatch.setattr(snapshot_module, "build_snapshot", same_week)
    base = tmp_path_factory.mktemp("second")
    first = (small_notebook(base / "funnel_marketing.ipynb", 'role = "x"', "print('funnel')"),)
    extra = replace(
        load_role("marketing"), notebooks=first, title="Funnel — marketing", parameters={}
    )
    again = run_reports([extra], warehouse=warehouse, out_dir=folder.parent, progress=False)
    assert again.ok and again.folder == folder
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    roles = [(n["role"], n["notebook"]) for n in manifest["notebooks"]]
    assert roles == [
        ("ceo", "01_funnel_overview.ipynb"),
        ("ceo", "growth.ipynb"),
        ("analyst", "01_funnel_overview.ipynb"),
        ("broken", "failing.ipynb"),
        ("marketing", "funnel_marketing.ipynb"),
    ]
    assert set(manifest["roles"]) == {"ceo", "analyst", "broken", "marketing"}
    assert [r["roles"] for r in manifest["runs"]] == [["ceo", "analyst", "broken"], ["marketing"]]
    assert manifest["ok"] is False  # the broken role of the first run still counts
    index = (folder / "index.html").read_text(encoding="utf-8")
    for href in ("ceo/01_funnel_overview.html", "marketing/funnel_marketing.html"):
        assert f'href="{href}"' in index
    assert "Funnel — marketing" in index and "Weekly funnel — CEO" in index


def test_role_locale(tmp_path):
    assert load_role("qa", roles_dir=write_role(tmp_path, "qa", GOOD_ROLE).parent).locale == "en"
    write_role(tmp_path, "ru", GOOD_ROLE + "locale: ru\n")
    assert load_role("ru", roles_dir=tmp_path).locale == "ru"
    write_role(tmp_path, "de", GOOD_ROLE + "locale: de\n")
    with pytest.raises(RoleConfigError, match=r"de\.yaml: key 'locale' must be one of ru, en"):
        load_role("de", roles_dir=tmp_path)
    demo = {name: load_role(name).locale for name in ("ceo", "marketing", "sales", "analyst")}
    assert demo == {"ceo": "ru", "marketing": "ru", "sales": "ru", "analyst": "en"}


def test_optional_role_keys(tmp_path):
    text = (
        GOOD_ROLE
        + "period: 2025-W23\nwarehouse: data/other.duckdb\nparameters: {target_growth: 0.3}\n"
    )
    write_role(tmp_path, "opt", text)
    role = load_role("opt", roles_dir=tmp_path)
    assert role.period == "2025-W23"
    assert role.warehouse == (NOTEBOOKS_DIR.parent / "data" / "other.duckdb").resolve()
    assert role.parameters == {"target_growth": 0.3}
    plain = load_role("qa", roles_dir=write_role(tmp_path, "qa", GOOD_ROLE).parent)
    assert (plain.period, plain.warehouse, plain.parameters) == (None, None, {})


def _injected(ipynb: Path) -> str:
    executed = nbformat.read(ipynb, as_version=4)
    return next(
        c.source for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    )


def test_email_index_page_and_metrics_json_agree(run, tmp_path):
    """The CEO's booked week, worked out in funnel_fixture's docstring, is the same everywhere:
    revenue 150 777 RUB, spend 21 000 RUB, ROMI (150 777 − 21 000) / 21 000 = 617.99 %,
    CAC 21 000 / 3 = 7 000 RUB (each surface in its own locale's notation)."""
    from email import policy
    from email.parser import BytesParser

    from analytics.reports import sending

    _, folder, _ = run
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    assert metrics["revenue"]["value"] == pytest.approx(150_777.0)
    assert metrics["spend"]["value"] == pytest.approx(21_000.0)
    assert metrics["romi"]["value"] == pytest.approx(129_777 / 21_000 * 100)
    assert metrics["cac"]["value"] == pytest.approx(7_000.0)
    assert metrics["sales"]["value"] == 3  # D1, D4, DX won in W23

    index = (folder / "index.html").read_text(encoding="utf-8")
    page = (folder / "ceo" / "01_funnel_overview.html").read_text(encoding="utf-8")
    nbsp = "\u00a0"
    in_ru = {  # the index and the ceo's page are Russian (the ceo role's), figures by Babel
        "sales": "3",
        "revenue": f"150{nbsp}777{nbsp}₽",
        "spend": f"21{nbsp}000{nbsp}₽",
        "romi": f"618,0{nbsp}%",
        "cac": f"7{nbsp}000{nbsp}₽",
    }
    for key, text in in_ru.items():
        assert f'<td data-metric="{key}">{text}</td>' in index, key
        assert f">{text}</td>" in page, key
    for label in ("Выручка", "Продажи", "Расходы на рекламу", "ROMI", "CAC"):  # catalogue (ru)
        assert f">{label}</td>" in page, label

    result = sending.send_reports(folder, roles=["ceo"], dry_run=True, out_dir=tmp_path)
    assert result.sent == ["ceo"]
    msg = BytesParser(policy=policy.default).parsebytes((tmp_path / "ceo.eml").read_bytes())
    body = msg.get_body(("html",)).get_content()
    russian = {  # the ceo role is Russian: tiles with Babel figures (no-break spaces)
        "Выручка": f"150{nbsp}777{nbsp}₽",
        "Расходы на рекламу": f"21{nbsp}000{nbsp}₽",
        "ROMI": f"618,0{nbsp}%",
        "CAC": f"7{nbsp}000{nbsp}₽",
    }
    for label, text in russian.items():
        assert f">{label}</div>" in body and f">{text}</div>" in body, label


# --- a period without data ---------------------------------------------------------------


def plain_notebook(path: Path) -> Path:
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Plain page"),
            new_code_cell('period = "x"', metadata={"tags": ["parameters"]}),
            new_code_cell("print('a page')"),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def empty_run(tmp_path_factory):
    """ISO week 2025-W10 (03-03..03-09) of funnel_fixture: its data start on 2025-05-30.

    Run once, through the ``report`` command (``cli.main``), so that the command's exit code
    and stderr and the runner's summary and files come from one run: the runner's
    ``run_reports`` is wrapped to keep what it returns (it still does all the work)."""
    import contextlib
    import io

    from analytics import cli
    from analytics.reports import roles as role_files
    from analytics.reports import runner

    base = tmp_path_factory.mktemp("empty")
    warehouse = build_warehouse(base / "warehouse.duckdb")
    notebook = plain_notebook(base / "plain.ipynb")
    text = GOOD_ROLE.replace("01_funnel_overview.ipynb", str(notebook)) + "locale: ru\n"
    write_role(base / "roles", "ceo", text)
    role = load_role("ceo", roles_dir=base / "roles")
    out = base / "reports"
    summaries, run_reports_itself = [], runner.run_reports

    def kept(*args, **kwargs):
        summaries.append(run_reports_itself(*args, **kwargs))
        return summaries[-1]

    stderr = io.StringIO()
    argv = ["report", "--roles", "ceo", "--period", "2025-W10"]
    argv += ["--warehouse", str(warehouse), "--out", str(out)]
    # the file behind stderr (fd 2), which the command's workers and their kernels inherit
    process_stderr = base / "stderr.txt"
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stderr(stderr),
        process_stderr.open("w+b") as fd2_file,
    ):
        saved = os.dup(2)
        os.dup2(fd2_file.fileno(), 2)
        try:
            patch.setattr(role_files, "load_role", lambda name: role)
            patch.setattr(runner, "run_reports", kept)
            code = cli.main(argv)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    (summary,) = summaries
    EMPTY_RUN_PROCESS_STDERR.append(process_stderr.read_text(encoding="utf-8", errors="replace"))
    return summary, out / "2025-W10", warehouse, role, code, stderr.getvalue()


EMPTY_RUN_PROCESS_STDERR: list[str] = []
"""Filled by ``empty_run``: what the processes of the run (workers, kernels) wrote to fd 2."""


def test_a_period_without_data_gets_a_banner_everywhere(empty_run):
    summary, folder, _, _, _, _ = empty_run
    assert summary.no_data and "NO DATA" in summary.text
    page = (folder / "ceo" / "plain.html").read_text(encoding="utf-8")
    index = (folder / "index.html").read_text(encoding="utf-8")
    for html in (page, index):
        assert '<div role="alert" class="no-data"' in html
        assert "Нет данных за период 2025-W10" in html
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["no_data"] is True


def test_no_e_mail_for_a_period_without_data(empty_run, tmp_path):
    from analytics.reports import sending

    _, folder, _, _, _, _ = empty_run
    result = sending.send_reports(folder, dry_run=True, out_dir=tmp_path)
    assert result.sent == [] and not result.ok
    assert [s.role for s in result.skipped] == ["ceo"]
    assert "no data for the period" in result.skipped[0].reason
    assert not list(tmp_path.glob("*.eml"))


def test_report_command_exits_non_zero_with_one_line(empty_run):
    """``report`` on a period without data: exit 2 and one line on stderr (the run of the
    ``empty_run`` fixture, made by the command)."""
    summary, folder, _, _, code, stderr = empty_run
    assert summary.folder == folder  # the command ran the fixture's role into its folder
    assert code == 2
    err = stderr.strip().splitlines()
    messages = [line for line in err if not line.startswith("reports 2025-W10:")]  # tqdm bar
    assert len(messages) == 1 and messages[0].startswith("report: no data for 2025-W10")
    assert "Traceback" not in "\n".join(err)


def test_report_command_prints_nothing_about_the_kernels_transport(empty_run):
    """Over TCP, ipykernel 7 writes "Kernel is running over TCP without encryption..."
    to stderr at each kernel start: one line per worker in every cron mail of the weekly
    command. Its kernels talk over Unix sockets (``kernels.kernel_transport``): the
    command's processes (the runner, its worker, the worker's kernel) wrote no such
    line to the stderr they share (fd 2) while ``empty_run`` ran the command."""
    (process_stderr,) = EMPTY_RUN_PROCESS_STDERR
    assert empty_run[0].results and empty_run[0].results[0].status == "ok"  # a kernel ran
    assert "without encryption" not in process_stderr
    assert "IPKernelApp" not in process_stderr


def test_role_parameters_reach_only_the_notebooks_that_declare_them(run):
    _, folder, warehouse = run
    # params/roles/ceo.yaml sets target_growth: 0.2; growth.ipynb declares it, 01 does not
    assert "target_growth = 0.2" in _injected(folder / "ceo" / "growth.ipynb")
    funnel = _injected(folder / "ceo" / "01_funnel_overview.ipynb")
    assert "target_growth" not in funnel
    assert f'warehouse = "{warehouse}"' in funnel
    # 01 does not declare role (one execution serves every role); growth.ipynb does
    assert "role = " not in funnel
    assert 'role = "ceo"' in _injected(folder / "ceo" / "growth.ipynb")


def test_notebook_parameters_keeps_declared_names(tmp_path):
    notebook = small_notebook(tmp_path / "p.ipynb", 'period = "x"\nweeks = 12  # weeks', "")
    assert declared_parameters(notebook) == {"period", "weeks"}
    offered = {"period": "2025-W23", "weeks": 4, "role": "ceo", "target_growth": 0.2}
    assert notebook_parameters(notebook, offered) == {"period": "2025-W23", "weeks": 4}


def test_role_parameter_no_notebook_declares_is_refused(tmp_path):
    write_role(tmp_path, "typo", GOOD_ROLE + "parameters: {target_grwth: 0.3}\n")
    role = load_role("typo", roles_dir=tmp_path)
    with pytest.raises(RoleConfigError, match=r"typo\.yaml: key 'parameters': 'target_grwth' is"):
        run_reports([role], warehouse=build_warehouse(tmp_path / "w.duckdb"), out_dir=tmp_path)


def test_project_roles_execute_each_notebook_once(tmp_path):
    """Every (role, notebook) page of the project's role files gets exactly one execution:
    a notebook that declares ``views`` once for all the roles listing it, whatever their
    language; without ``views``, one that declares ``role`` once per role listing it,
    one that declares ``locale`` once per language, any other once."""
    import yaml

    from analytics.reports.runner import _executions

    names = available_roles()
    listed = {
        name: yaml.safe_load(
            (NOTEBOOKS_DIR.parent / "params" / "roles" / f"{name}.yaml").read_text("utf-8")
        )["notebooks"]
        for name in names
    }
    pages = [(name, nb) for name in names for nb in listed[name]]
    locales = {name: load_role(name).locale for name in names}

    def runs(nb: str) -> int:
        listing = [name for name in names if nb in listed[name]]
        declared = declared_parameters(NOTEBOOKS_DIR / nb)
        if "views" in declared:
            return 1
        if "role" in declared:
            return len(listing)
        if "locale" in declared:  # one execution per language
            return len({locales[name] for name in listing})
        return 1

    expected = sum(runs(nb) for nb in {nb for _, nb in pages})
    shared = {"warehouse": "w.duckdb", "period": "last-week", "snapshot": "metrics.json"}
    tasks = _executions([load_role(name) for name in names], tmp_path, shared)
    assert len(tasks) == expected
    assert sorted((p.role, t.notebook.name) for t in tasks for p in t.pages) == sorted(pages)


def test_default_roles_execute_each_distinct_notebook_once_with_its_pages(tmp_path):
    """params/roles (analyst en; ceo, marketing, sales ru) list 12 distinct notebooks
    (analyst.yaml lists 00-11; the others are among them): 12 executions, not one per
    role and language. 09 is listed by all four roles in role-file order (analyst, ceo,
    marketing, sales), so its one execution renders four pages and gets them as ``views``,
    with the first page's role and locale."""
    from analytics.reports.runner import _executions

    names = available_roles()
    assert names == ["analyst", "ceo", "marketing", "sales"]
    shared = {"warehouse": "w.duckdb", "period": "last-week", "snapshot": "metrics.json"}
    tasks = _executions([load_role(name) for name in names], tmp_path, shared)
    assert len(tasks) == 12
    assert sorted(t.notebook.name for t in tasks) == sorted(
        p.name for p in NOTEBOOKS_DIR.glob("[01]*.ipynb")
    )
    summary = next(t for t in tasks if t.notebook.name == "09_weekly_summary.ipynb")
    pages = [["analyst", "en"], ["ceo", "ru"], ["marketing", "ru"], ["sales", "ru"]]
    assert summary.parameters["views"] == pages
    assert (summary.parameters["role"], summary.parameters["locale"]) == ("analyst", "en")
    assert [(p.role, p.locale, p.hide_code) for p in summary.pages] == [
        ("analyst", "en", False),
        ("ceo", "ru", True),
        ("marketing", "ru", True),
        ("sales", "ru", True),
    ]
    attribution = next(t for t in tasks if t.notebook.name == "06_attribution.ipynb")
    assert attribution.parameters["views"] == [["analyst", "en"], ["marketing", "ru"]]
    assert "role" not in attribution.parameters  # 06 does not declare it


def test_other_parameters_still_split_a_notebook_with_views(tmp_path):
    """Two roles that give 09 different ``target_growth`` get an execution each (each with
    its own page only); the default value 0.2 of 09 counts as not given."""
    from analytics.reports.runner import _executions

    summary = (NOTEBOOKS_DIR / "09_weekly_summary.ipynb",)
    shared = {"warehouse": "w.duckdb", "period": "last-week", "snapshot": "metrics.json"}
    ceo = replace(load_role("ceo"), notebooks=summary, parameters={"target_growth": 0.5})
    sales = replace(load_role("sales"), notebooks=summary, parameters={"target_growth": 0.2})
    marketing = replace(load_role("marketing"), notebooks=summary, parameters={})
    tasks = _executions([ceo, sales, marketing], tmp_path, shared)
    assert sorted(t.parameters["views"] for t in tasks) == [
        [["ceo", "ru"]],
        [["sales", "ru"], ["marketing", "ru"]],
    ]


def test_report_workers_do_not_import_the_metrics_layer():
    """The spawned workers import the runner module to run Papermill: importing it must
    not pull pandas, Ibis or DuckDB (~70 MB of resident memory per worker at 10M), nor,
    after the pool's initializer (``skip_iri_grammars``), the IRI grammars of
    ``rfc3987-syntax`` that jsonschema would compile (2.1 CPU-s per worker), while
    nbformat still validates a notebook (its schemas use no ``format`` check)."""
    import sys

    code = (
        "import sys, analytics.reports.runner as r\n"
        "r.skip_iri_grammars()\n"
        "import analytics.reports.render, analytics.reports.views, nbformat\n"
        "nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')]))\n"
        "assert 'jsonschema' in sys.modules\n"
        "loaded = ('pandas', 'ibis', 'duckdb', 'pyarrow', r.IRI_GRAMMARS_MODULE)\n"
        "print(sorted(m for m in loaded if sys.modules.get(m) is not None))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_the_page_navigation_and_papermill_in_a_worker_do_not_load_what_they_do_not_use():
    """The runner imports ``render`` for the pages' navigation: that must not import
    nbconvert (~0.25 CPU-s), which only the workers' rendering needs. A notebook worker
    imports Papermill with ``import_papermill``: without pyarrow and NumPy (Papermill's
    HDFS support; ~0.3 CPU-s and ~40 MB per worker), which stay importable afterwards."""
    import sys

    code = (
        "import sys, analytics.reports.runner as r\n"
        "r.skip_iri_grammars()\n"
        "import analytics.reports.render\n"
        "print('nbconvert' in sys.modules)\n"
        "papermill = r.import_papermill()\n"
        "import papermill.execute, nbclient\n"
        "print(sorted(m for m in ('pyarrow', 'numpy', 'pandas') if m in sys.modules))\n"
        "import pyarrow\n"
        "print(pyarrow.array([1, 2]).to_pylist())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split("\n")[:3] == ["False", "[]", "[1, 2]"]


def test_the_workers_are_started_without_the_iri_grammars():
    """A worker of the runner's pool (``notebook_pool``) cannot import ``rfc3987_syntax``
    (installed here with JupyterLab), so its jsonschema skips the grammars; and its
    collector runs at the report processes' thresholds, not Python's (700, 10, 10)."""
    import gc
    import importlib
    from importlib.metadata import distribution

    from analytics.reports.kernels import COLLECTOR_THRESHOLDS
    from analytics.reports.runner import IRI_GRAMMARS_MODULE, notebook_pool

    assert distribution("rfc3987-syntax")  # installed: a plain process would import it
    with notebook_pool(1) as pool:
        future = pool.submit(importlib.import_module, IRI_GRAMMARS_MODULE)
        with pytest.raises(ModuleNotFoundError, match=IRI_GRAMMARS_MODULE):
            future.result(timeout=60)
        assert pool.submit(gc.get_threshold).result(timeout=60) == COLLECTOR_THRESHOLDS
    assert COLLECTOR_THRESHOLDS != (700, 10, 10)


def test_executions_are_handed_out_longest_first_by_the_last_run(tmp_path):
    """The latest manifest under the reports root gives each notebook's execution time
    (the longest of its executions); tasks are ordered longest first, a notebook the last
    run did not have counts as the longest, equal times keep the role-file order."""
    from analytics.reports.runner import _Task

    old, new = tmp_path / "2025-W22", tmp_path / "2025-W23"
    for folder, entries in (
        (old, [("a.ipynb", 99.0)]),  # older run: not read
        (new, [("a.ipynb", 2.0), ("b.ipynb", 9.5), ("a.ipynb", 3.5), ("c.ipynb", 2.0)]),
    ):
        folder.mkdir()
        notebooks = [{"notebook": n, "execute_seconds": s} for n, s in entries]
        (folder / "manifest.json").write_text(json.dumps({"notebooks": notebooks}))
    stamps = (1_000_000_000, 1_000_000_500)  # W22 written before W23
    for folder, stamp in zip((old, new), stamps, strict=True):
        os.utime(folder / "manifest.json", (stamp, stamp))
    seconds = previous_execute_seconds(tmp_path)
    assert seconds == {"a.ipynb": 3.5, "b.ipynb": 9.5, "c.ipynb": 2.0}

    def task(name):
        return _Task(notebook=Path(name), parameters={}, cwd=tmp_path, pages=())

    names = ["c.ipynb", "a.ipynb", "new.ipynb", "b.ipynb", "d.ipynb"]
    ordered = by_expected_time([task(n) for n in names], {**seconds, "d.ipynb": 2.0})
    # new.ipynb, unknown, counts 9.5 like b.ipynb and comes first as listed first
    assert [t.notebook.name for t in ordered] == [
        "new.ipynb",
        "b.ipynb",
        "a.ipynb",
        "c.ipynb",
        "d.ipynb",
    ]
    # no earlier run: role-file order; an unreadable manifest counts as none
    assert by_expected_time([task(n) for n in names], {}) == [task(n) for n in names]
    (new / "manifest.json").write_text("{not json")
    os.utime(new / "manifest.json", (stamps[1], stamps[1]))
    assert previous_execute_seconds(tmp_path) == {}


def test_dispatch_starts_what_needs_no_step_then_the_rest_in_order(tmp_path):
    """The runner's scheduler, with futures set by hand (no process): while the snapshot
    step runs, only tasks that need no step start, one at a time (two workers, one core
    left to the step); once it is done the others start in the given order, each with the
    step's result passed in by ``update``; every task is recorded once."""
    from concurrent.futures import Future

    from analytics.reports.runner import _dispatch, _Step, _Task

    def task(name, **parameters):
        return _Task(notebook=Path(name), parameters=parameters, cwd=tmp_path, pages=())

    tasks = [task("a", snapshot="?"), task("b"), task("c", snapshot="?"), task("d")]
    step = Future()
    submitted, recorded = [], []

    def submit(run, item):
        submitted.append((item.notebook.name, dict(item.parameters), step.done()))
        if len(submitted) == 2:  # the step ends while the second free task runs
            step.set_result("metrics.json")
        future = Future()
        future.set_result(run(item))
        return future

    def record(item, future):
        recorded.append((item.notebook.name, future.result()))

    def needs(item):
        return "snapshot" in item.parameters

    def update(item, path):
        return replace(item, parameters={**item.parameters, "snapshot": path})

    results = _dispatch(
        tasks, 2, [_Step(future=step, needs=needs, update=update)], submit, lambda t: "ran", record
    )
    assert results == ["metrics.json"]
    assert submitted == [
        ("b", {}, False),
        ("d", {}, False),
        ("a", {"snapshot": "metrics.json"}, True),
        ("c", {"snapshot": "metrics.json"}, True),
    ]
    assert sorted(recorded) == [("a", "ran"), ("b", "ran"), ("c", "ran"), ("d", "ran")]

    failed = Future()
    failed.set_exception(ValueError("no visits in the warehouse"))
    submitted.clear()
    queued = Future()  # a second step queued behind the failed one (not started)
    steps = [_Step(future=failed, needs=needs), _Step(future=queued, needs=needs, update=update)]
    with pytest.raises(ValueError, match="no visits"):
        _dispatch(tasks, 2, steps, submit, lambda t: "ran", record)
    assert [name for name, _, _ in submitted] == ["b"]  # nothing started after the error
    assert queued.cancelled()
