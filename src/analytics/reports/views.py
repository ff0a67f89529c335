"""One execution of a report notebook, rendered as several roles' pages ("views").

A weekly run asks for the same notebook in several roles and languages: the
weekly summary (09) for the CEO, marketing and sales in Russian and for the
analyst in English. Executing it once per page repeats the imports, the
warehouse queries and every analyst-only computation (the bootstrap of 06) for
pages that differ only in a few sentences. Instead the runner executes each
notebook once and passes the pages it will render from that execution::

    views = [["ceo", "ru"], ["marketing", "ru"], ["analyst", "en"]]

The notebook (parameter ``views``, default ``None``) wraps every output that
depends on the page in :meth:`Views.each` (role and language) or
:meth:`Views.each_locale` (language only)::

    views = Views(views, role, locale)
    views.each(lambda role, locale: summary.headline(snapshot, role, locale, plan))
    views.each_locale(lambda locale: summary.channels_section(snapshot, locale))

Each call displays one output per distinct page (or language), marked in the
output's metadata (``{"analytics_view": {"role": "ceo", "locale": "ru"}}``).
The runner then writes one notebook per page with :func:`select_view`, which
keeps the outputs marked for that page and every unmarked output (the analyst
cells, figures and prints shared by every page). A user who opens the notebook
in JupyterLab has ``views = None``: one page, the ``role``/``locale``
parameters', exactly as before.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence

from IPython.display import display

VIEW_KEY = "analytics_view"
"""Key of an output's metadata naming the page(s) it belongs to."""


class Views:
    """The pages (role, locale) rendered from one execution of a notebook.

    Parameters
    ----------
    views : sequence of [role, locale], or Views, optional
        The pages, in the runner's order (the notebook parameter ``views``);
        repeated pairs count once. ``None`` or empty: the one page
        ``[role, locale]`` (a notebook opened by hand). A ``Views`` is
        copied (a cell ``views = Views(views, role, locale)`` run twice).
    role : str, optional
        The role of the single page when ``views`` is None.
    locale : str, default "en"
        The language of the single page when ``views`` is None.

    Raises
    ------
    ValueError
        If an entry of ``views`` is not a (role, locale) pair.
    """

    def __init__(
        self,
        views: Iterable[Sequence[str]] | None = None,
        role: str | None = None,
        locale: str = "en",
    ) -> None:
        if isinstance(views, Views):  # a notebook cell run twice: views = Views(views, ...)
            self.pages = views.pages
            return
        pairs = [(role, locale)] if not views else []
        for entry in views or ():
            if isinstance(entry, str) or len(entry) != 2:
                raise ValueError(f"views: {entry!r} is not a [role, locale] pair")
            pairs.append((entry[0], entry[1]))
        self.pages: tuple[tuple[str | None, str], ...] = tuple(dict.fromkeys(pairs))

    @property
    def roles(self) -> tuple[str | None, ...]:
        """Distinct roles of the pages, in page order."""
        return tuple(dict.fromkeys(role for role, _ in self.pages))

    @property
    def locales(self) -> tuple[str, ...]:
        """Distinct languages of the pages, in page order."""
        return tuple(dict.fromkeys(locale for _, locale in self.pages))

    def each(self, fn: Callable[[str | None, str], object]) -> None:
        """Display ``fn(role, locale)`` once per page, marked for that page.

        A result of None displays nothing.
        """
        for role, locale in self.pages:
            _show(fn(role, locale), {"role": role, "locale": locale})

    def each_locale(self, fn: Callable[[str], object]) -> None:
        """Display ``fn(locale)`` once per language, marked for that language's pages.

        For sections that depend on the language only: computed once per
        language, not once per role.
        """
        for locale in self.locales:
            _show(fn(locale), {"locale": locale})

    def __repr__(self) -> str:
        return f"Views({[list(page) for page in self.pages]!r})"


def _show(obj: object, view: dict) -> None:
    if obj is not None:
        display(obj, metadata={VIEW_KEY: view})


def output_matches(output: dict, role: str | None, locale: str) -> bool:
    """True when ``output`` belongs on the page (role, locale).

    An output without :data:`VIEW_KEY` metadata belongs on every page; a marked
    one on the pages whose role and locale equal every key it names.
    """
    view = (output.get("metadata") or {}).get(VIEW_KEY)
    if not view:
        return True
    return view.get("role", role) == role and view.get("locale", locale) == locale


def select_view(notebook, role: str | None, locale: str):
    """The executed notebook as the page (role, locale) shows it.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        An executed notebook (not modified).
    role, locale : str
        The page.

    Returns
    -------
    nbformat.NotebookNode
        A copy whose code cells keep only the outputs :func:`output_matches`
        the page; cells, tags and unmarked outputs are unchanged.
    """
    page = copy.deepcopy(notebook)
    for cell in page.cells:
        if cell.get("cell_type") == "code":
            cell.outputs = [out for out in cell.outputs if output_matches(out, role, locale)]
    return page


def has_views(notebook) -> bool:
    """True when some output of ``notebook`` is marked for a page (:data:`VIEW_KEY`)."""
    return any(
        VIEW_KEY in (out.get("metadata") or {})
        for cell in notebook.cells
        if cell.get("cell_type") == "code"
        for out in cell.get("outputs", [])
    )
