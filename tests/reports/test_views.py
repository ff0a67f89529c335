"""Views: one execution of a notebook displays each page's sections, select_view keeps a
page's own (hand-made notebooks, no kernel)."""

import nbformat
import pytest

from analytics.reports import views as views_module
from analytics.reports.views import VIEW_KEY, Views, has_views, select_view

RUN = [["ceo", "ru"], ["marketing", "ru"], ["analyst", "en"], ["ceo", "ru"]]
"""The runner's ``views`` of 09 for ceo, marketing and analyst (a repeated page counts once)."""


@pytest.fixture
def shown(monkeypatch):
    """What Views displays: (object, metadata) per call of IPython's ``display``."""
    calls = []
    monkeypatch.setattr(
        views_module, "display", lambda obj, metadata: calls.append((obj, metadata))
    )
    return calls


def test_pages_roles_and_locales_in_run_order():
    pages = Views(RUN)
    assert pages.pages == (("ceo", "ru"), ("marketing", "ru"), ("analyst", "en"))
    assert pages.roles == ("ceo", "marketing", "analyst")
    assert pages.locales == ("ru", "en")


def test_without_views_the_parameters_make_the_one_page():
    """A notebook opened in JupyterLab (views None) shows one page, as before views."""
    assert Views(None, "sales", "ru").pages == (("sales", "ru"),)
    assert Views([], "ceo", "en").pages == (("ceo", "en"),)
    assert Views(None, locale="ru").locales == ("ru",)


def test_a_cell_run_twice_keeps_the_pages():
    once = Views(RUN, "ceo", "ru")
    assert Views(once, "ceo", "ru").pages == once.pages


def test_each_displays_once_per_page_marked_for_it(shown):
    asked = []

    def section(role, locale):
        asked.append((role, locale))
        return f"{role}:{locale}"

    Views(RUN).each(section)
    assert asked == [("ceo", "ru"), ("marketing", "ru"), ("analyst", "en")]
    assert shown == [
        ("ceo:ru", {VIEW_KEY: {"role": "ceo", "locale": "ru"}}),
        ("marketing:ru", {VIEW_KEY: {"role": "marketing", "locale": "ru"}}),
        ("analyst:en", {VIEW_KEY: {"role": "analyst", "locale": "en"}}),
    ]


def test_each_locale_computes_once_per_language(shown):
    asked = []

    def section(locale):
        asked.append(locale)
        return None if locale == "en" else "ru section"  # None displays nothing

    Views(RUN).each_locale(section)
    assert asked == ["ru", "en"]
    assert shown == [("ru section", {VIEW_KEY: {"locale": "ru"}})]


def test_an_entry_that_is_not_a_pair_is_refused():
    with pytest.raises(ValueError, match=r"views: 'ceo' is not a \[role, locale\] pair"):
        Views(["ceo", "ru"])


def _output(text, view=None):
    return nbformat.v4.new_output(
        "display_data",
        data={"text/plain": text},
        metadata={VIEW_KEY: view} if view else {},
    )


@pytest.fixture
def executed():
    """An executed notebook by hand: a shared print, a section per page, one per language."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Analyst notes", metadata={"tags": ["analyst-only"]}),
        nbformat.v4.new_code_cell(
            "views.each(...)",
            outputs=[
                nbformat.v4.new_output("stream", name="stdout", text="shared\n"),
                _output("ceo ru", {"role": "ceo", "locale": "ru"}),
                _output("marketing ru", {"role": "marketing", "locale": "ru"}),
                _output("analyst en", {"role": "analyst", "locale": "en"}),
            ],
        ),
        nbformat.v4.new_code_cell(
            "views.each_locale(...)",
            outputs=[
                _output("in Russian", {"locale": "ru"}),
                _output("in English", {"locale": "en"}),
            ],
        ),
        nbformat.v4.new_code_cell("plt.show()", outputs=[_output("figure")]),
    ]
    return notebook


def _texts(notebook):
    return [
        out.get("text") or out["data"]["text/plain"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    ]


@pytest.mark.parametrize(
    ("role", "locale", "expected"),
    [
        ("ceo", "ru", ["shared\n", "ceo ru", "in Russian", "figure"]),
        ("marketing", "ru", ["shared\n", "marketing ru", "in Russian", "figure"]),
        ("analyst", "en", ["shared\n", "analyst en", "in English", "figure"]),
        ("sales", "ru", ["shared\n", "in Russian", "figure"]),  # no section of its own
    ],
)
def test_select_view_keeps_the_pages_outputs_and_the_unmarked_ones(
    executed, role, locale, expected
):
    page = select_view(executed, role, locale)
    assert _texts(page) == expected
    nbformat.validate(page)  # the view metadata is valid nbformat output metadata
    assert [c.metadata for c in page.cells] == [c.metadata for c in executed.cells]  # tags kept
    assert len(_texts(executed)) == 7  # the executed notebook is not modified


def test_has_views(executed):
    assert has_views(executed)
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", outputs=[_output("1")])])
    assert not has_views(plain)
