"""Executed notebooks to self-contained HTML reports.

The HTML is built with nbconvert's ``lab`` template minus everything it loads
from the network: require.js, MathJax, Mermaid and the widget manager are CDN
scripts in the stock template and are dropped here (the reports hold static
tables and PNG figures, which need none of them). Figures stay inside the page
as ``data:`` URIs, so one file can be mailed or opened offline.
:func:`render_html` refuses to write a page that still references an outside
resource (:func:`external_references`).

For leadership (``hide_code=True``) the page shows prose, tables and figures
only: code inputs and prompts are excluded, cells tagged ``analyst-only``,
``parameters`` and ``injected-parameters`` are removed, stderr output
(warnings) is dropped and so are code cells left without output.
"""

from __future__ import annotations

import functools
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import nbformat

if TYPE_CHECKING:
    from nbconvert import HTMLExporter

# nbconvert (with mistune, bleach, BeautifulSoup: ~0.25 CPU-s to import) is imported
# where a page is rendered, in the runner's notebook workers: the runner imports this
# module for the pages' navigation (set_page_nav), which needs none of it.

ANALYST_ONLY_TAG = "analyst-only"
"""Cells with this tag are removed from reports with hidden code."""

HIDDEN_CELL_TAGS = frozenset({ANALYST_ONLY_TAG, "parameters", "injected-parameters"})

_TEMPLATE_NAME = "analytics_report.html.j2"
_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{#- lab template without network resources: no require.js, MathJax, Mermaid, widgets -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">{{ resources.report_css }}</style>
{%- endblock html_head_css -%}
{%- block body_header -%}
{{ super() }}
<!--report-nav-->
{%- endblock body_header -%}
"""

REPORT_CSS = """
html { -webkit-text-size-adjust: 100%; }
body.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 0 12px; box-sizing: border-box; }
.jp-Cell, .jp-OutputArea, .jp-OutputArea-child, .jp-OutputArea-output { max-width: 100%;
  min-width: 0; box-sizing: border-box; }
.jp-OutputArea-output { overflow-x: auto; }
.jp-RenderedHTMLCommon table, .jp-OutputArea-output table { display: block; max-width: 100%;
  overflow-x: auto; }
.jp-RenderedHTMLCommon pre, .jp-OutputArea-output pre { max-width: 100%; overflow-x: auto; }
img, svg { max-width: 100%; height: auto; }
.report-nav { display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 10px 0;
  border-bottom: 1px solid #ddd; font: 14px/1.4 system-ui, sans-serif; }
.report-nav a { color: #1a5fb4; }
.report-nav span[aria-current] { font-weight: 600; }
@media (max-width: 600px) {
  body.jp-Notebook { padding: 0 6px; }
  .jp-Cell { padding: 2px 0; }
  .jp-RenderedHTMLCommon { padding-right: 0; }
}
"""
"""Page CSS for phones and desktops: content at most 1100 px wide, tables and
code scroll inside their own box, images never wider than the screen."""

NAV_LABEL = {"ru": "Отчёты", "en": "Reports"}
INDEX_LINK = {"ru": "Все отчёты", "en": "All reports"}

# Tag attributes that make a browser fetch something.
_FETCHING_ATTRS = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
    "input": ("src",),
}
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_CSS_REF = re.compile(
    r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.IGNORECASE
)
_JS_IMPORT = re.compile(
    r"""\bimport\s*(?:\(\s*|[^;'"]*?\bfrom\s*)['"]\s*((?:https?:)?//[^'"]+)""", re.IGNORECASE
)


class _ReferenceFinder(HTMLParser):
    """Collect URLs of outside resources a page would load."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in _FETCHING_ATTRS.get(tag, ()):
                if name == "srcset":
                    candidates = [part.split()[0] for part in value.split(",") if part.strip()]
                else:
                    candidates = [value]
                self.found += [c.strip() for c in candidates if _REMOTE.match(c)]
            elif name == "style":
                self.found += _CSS_REF.findall(value)
        self._in = tag if tag in ("style", "script") else None

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.found += _CSS_REF.findall(data)
        elif self._in == "script":
            self.found += _JS_IMPORT.findall(data)


def external_references(html: str) -> list[str]:
    """URLs of outside resources an HTML page would fetch when opened.

    Looks at fetching attributes (``<script src>``, ``<link href>``,
    ``<img src/srcset>``, ``<iframe src>``, ``<source>``, ``<video>``,
    ``<audio>``, ``<embed>``, ``<object data>``, SVG ``<image>``/``<use>``),
    CSS ``url(...)`` and ``@import`` in ``<style>`` blocks and ``style``
    attributes, and ES module imports in inline scripts, for absolute
    ``http(s)://`` or protocol-relative ``//`` URLs. Plain links
    (``<a href>``) are navigation, not resources, and are not reported;
    ``data:`` URIs and relative paths are not reported either.

    Parameters
    ----------
    html : str
        The page.

    Returns
    -------
    list of str
        The URLs in page order; empty for a self-contained page.
    """
    finder = _ReferenceFinder()
    finder.feed(html)
    finder.close()
    return finder.found


@functools.cache
def _leadership_view():
    """nbconvert's preprocessor class of the leadership view (defined at first use, so
    that importing this module does not import nbconvert)."""
    from nbconvert.preprocessors import Preprocessor

    class _LeadershipView(Preprocessor):
        """Drop ``stderr`` stream outputs (warnings, logging), then code cells left
        without outputs (their input is hidden, so they would render empty)."""

        def preprocess(self, nb, resources):
            kept = []
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs = [
                        out
                        for out in cell.outputs
                        if not (out.get("output_type") == "stream" and out.get("name") == "stderr")
                    ]
                    if not cell.outputs:
                        continue
                kept.append(cell)
            nb.cells = kept
            return nb, resources

    return _LeadershipView


def make_exporter(hide_code: bool, locale: str = "en") -> HTMLExporter:
    """An :class:`~nbconvert.HTMLExporter` for offline reports.

    Parameters
    ----------
    hide_code : bool
        Exclude code inputs and prompts; drop cells tagged ``analyst-only``
        (and the parameter cells), stderr output and code cells without output.
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.template_name = "lab"
    config.HTMLExporter.template_file = _TEMPLATE_NAME
    config.HTMLExporter.embed_images = True
    config.HTMLExporter.language_code = locale
    config.HTMLExporter.exclude_input = hide_code
    config.HTMLExporter.exclude_input_prompt = hide_code
    config.HTMLExporter.exclude_output_prompt = hide_code
    config.TagRemovePreprocessor.enabled = hide_code
    config.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_CELL_TAGS) if hide_code else set()
    exporter = HTMLExporter(config=config, extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})])
    exporter.environment.bytecode_cache = template_bytecode_cache()
    if hide_code:
        exporter.register_preprocessor(_leadership_view()(), enabled=True)
    return exporter


@functools.cache
def template_bytecode_cache():
    """Jinja's cache of compiled templates, shared by every exporter (:func:`make_exporter`).

    Each exporter has a Jinja environment of its own, which compiles nbconvert's
    ``lab`` templates (about 20 files) to Python on first use: ~0.2 CPU-s per exporter,
    paid by every notebook worker of every run for each view it renders (leadership,
    analyst). With Jinja's file-system bytecode cache the compiled code is kept, keyed
    by template name and checked against a hash of the template's source, in Jinja's
    per-user folder (``<temp>/_jinja2-cache-<uid>``, created with mode 0700 and
    refused if someone else owns it); the next exporter, in this process or the next
    run's, loads it instead of compiling. The page is the same: the cache holds the
    code the template compiles to. A folder that cannot be created or written leaves
    Jinja compiling, as without the cache.
    """
    from jinja2 import FileSystemBytecodeCache

    class TemplateCache(FileSystemBytecodeCache):
        def dump_bytecode(self, bucket) -> None:
            try:
                super().dump_bytecode(bucket)
            except OSError:  # the template compiled is used all the same, only not kept
                pass

    try:
        return TemplateCache()
    except (OSError, RuntimeError):  # no usable temporary folder: Jinja compiles each time
        return None


@functools.lru_cache(maxsize=8)
def _shared_exporter(hide_code: bool, locale: str) -> HTMLExporter:
    """One :func:`make_exporter` per view and language in a process: an exporter compiles
    its Jinja templates on first use (~2/3 of a page's rendering), a reused one does not."""
    return make_exporter(hide_code, locale)


def render_html(
    executed_ipynb: str | Path,
    html_path: str | Path,
    hide_code: bool,
    title: str | None = None,
    locale: str = "en",
    nav: list[tuple[str, str]] | None = None,
) -> Path:
    """Render an executed notebook to a self-contained HTML page.

    Parameters
    ----------
    executed_ipynb : str or pathlib.Path
        Notebook with outputs (e.g. written by Papermill).
    html_path : str or pathlib.Path
        Page to write; parent folders are created.
    hide_code : bool
        Leadership view: no code, no ``analyst-only`` cells, no stderr
        (see :func:`make_exporter`).
    title : str, optional
        Page ``<title>``; defaults to the notebook file stem.
    locale : {"ru", "en"}, default "en"
        ``<html lang>`` of the page.
    nav : list of (href, text), optional
        Links shown at the top of the page (the index, the role's other
        pages), see :func:`set_page_nav`; the runner sets them after every
        page of the role is rendered.

    Returns
    -------
    pathlib.Path
        ``html_path``.

    Raises
    ------
    ValueError
        If the page would still reference an outside resource; nothing is
        written then.
    """
    executed_ipynb, html_path = Path(executed_ipynb), Path(html_path)
    notebook = nbformat.read(executed_ipynb, as_version=4)
    resources = {
        "metadata": {"name": title or executed_ipynb.stem, "path": str(executed_ipynb.parent)},
        "report_css": REPORT_CSS,
    }
    body, _ = _shared_exporter(bool(hide_code), locale).from_notebook_node(
        notebook, resources=resources
    )
    remote = external_references(body)
    if remote:
        raise ValueError(
            f"HTML of {executed_ipynb.name} references outside resources: {', '.join(remote)}"
        )
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8")
    if nav:
        set_page_nav(html_path, nav, locale)
    return html_path


NAV_MARK = "<!--report-nav-->"


def nav_html(links: list[tuple[str, str]], current: str, locale: str = "en") -> str:
    """The links bar at the top of a page: ``<nav>`` with escaped hrefs and texts.

    Parameters
    ----------
    links : list of (href, text)
        Relative links, e.g. ``("../index.html", "Все отчёты")``.
    current : str
        The page's own file name; its entry is shown as text, not a link.
    """
    label = html.escape(NAV_LABEL.get(locale, NAV_LABEL["en"]))
    parts = [f'<nav class="report-nav" aria-label="{label}">']
    for href, text in links:
        if href == current:
            parts.append(f'<span aria-current="page">{html.escape(text)}</span>')
        else:
            target = html.escape(quote(href, safe="/.#-_~"))
            parts.append(f'<a href="{target}">{html.escape(text)}</a>')
    parts.append("</nav>")
    return "".join(parts)


def set_page_nav(html_path: str | Path, links: list[tuple[str, str]], locale: str = "en") -> None:
    """Put (or replace) the links bar of a rendered page (see :func:`nav_html`)."""
    html_path = Path(html_path)
    text = html_path.read_text(encoding="utf-8")
    bar = NAV_MARK + nav_html(links, html_path.name, locale) + "<!--/report-nav-->"
    pattern = re.escape(NAV_MARK) + r"(?:.*?<!--/report-nav-->)?"
    text, found = re.subn(pattern, lambda _m: bar, text, count=1, flags=re.S)
    if not found:
        raise ValueError(f"{html_path}: no navigation placeholder (not rendered by render_html)")
    html_path.write_text(text, encoding="utf-8")


_HEADING_MD = re.compile(r"^\s{0,3}#{1,2}\s+(.+?)\s*#*\s*$", re.M)
_HEADING_HTML = re.compile(r"<h[12][^>]*>(.*?)</h[12]>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def page_title(executed_ipynb: str | Path, hide_code: bool = True) -> str | None:
    """The first level-1/2 heading of a notebook, as plain text.

    Markdown cells and the Markdown/HTML outputs of code cells (headings
    computed in the role's language) are read in order; for ``hide_code``
    the cells removed from leadership pages are skipped.
    """
    notebook = nbformat.read(Path(executed_ipynb), as_version=4)
    for cell in notebook.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if hide_code and tags & HIDDEN_CELL_TAGS:
            continue
        if cell.cell_type == "markdown":
            found = _HEADING_MD.search(cell.source)
            if found:
                return _TAG.sub("", found.group(1)).strip() or None
        elif cell.cell_type == "code":
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "text/markdown" in data:
                    found = _HEADING_MD.search("".join(data["text/markdown"]))
                    if found:
                        return _TAG.sub("", found.group(1)).strip() or None
                if "text/html" in data:
                    found = _HEADING_HTML.search("".join(data["text/html"]))
                    if found:
                        return html.unescape(_TAG.sub("", found.group(1))).strip() or None
    return None
