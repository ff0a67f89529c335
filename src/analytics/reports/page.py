"""Page components of the leadership reports: tiles, tables, conclusions, charts.

A notebook calls each of these in one line and the result displays itself
(an :class:`Html` fragment or a matplotlib figure). Every component:

* takes labels and units from the metric catalogue
  (:mod:`analytics.metrics.catalogue`) and channel names from
  ``params/channels.yaml`` (:func:`analytics.sources.channels.channel_label`);
* formats every figure by the locale with Babel
  (:mod:`analytics.reports.formatting`), an undefined figure as a dash with a
  footnote saying why;
* HTML-escapes every value (campaign and UTM names come from outside);
* fits a 390 px phone: tiles wrap, tables scroll inside their own box, charts
  are small figures with large type and no scientific notation.

Inline styles only, so the same fragments work on a page and in an e-mail body.

Tile colours
------------
A tile's change is green when it moves the good way for the metric
(catalogue ``direction``: ``higher`` or ``lower`` is better), red when it
moves the bad way, and grey when the metric is ``neutral`` (ad spend), the
change is undefined, or the change is within the **normal week-to-week
variation**: ``|Δ %|`` ≤ the standard deviation of the week-over-week
percentage changes of the metric over the snapshot's weekly series (the 12
ISO weeks to the period end; :func:`normal_variation`). Metrics without a
weekly series use :data:`DEFAULT_NOISE_PCT`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from analytics.metrics.catalogue import metric
from analytics.reports.formatting import (
    DASH,
    check_locale,
    format_change,
    format_value,
    is_undefined,
)

GOOD = "#1b7f3b"
BAD = "#c62828"
FLAT = "#6b6b6b"
DEFAULT_NOISE_PCT = 5.0
"""Normal variation (± %) of a metric that has no weekly series in the snapshot."""

_WORDS = {
    "ru": {
        "previous": {
            7: "к прошлой неделе",
            "month": "к прошлому месяцу",
            None: "к прошлому периоду",
        },
        "year_ago": "к прошлому году",
        "plan": "план месяца",
        "plan_done": "выполнено",
        "notes": "Примечания",
        "immature": "когорта ещё набирает продажи",
    },
    "en": {
        "previous": {7: "vs last week", "month": "vs last month", None: "vs previous period"},
        "year_ago": "vs a year ago",
        "plan": "month's plan",
        "plan_done": "done",
        "notes": "Notes",
        "immature": "the cohort is still converting",
    },
}

_SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹"


class Html(str):
    """An HTML fragment that displays itself in a notebook (``_repr_html_``)."""

    def _repr_html_(self) -> str:
        return str(self)

    def __add__(self, other: str) -> Html:
        return Html(str(self) + str(other))


@dataclass
class Footnotes:
    """Numbered footnotes of one component: ``mark(text)`` gives ``¹``, ``²``..."""

    texts: list[str] = field(default_factory=list)

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        number = self.texts.index(text)
        return _SUPERSCRIPTS[number] if number < len(_SUPERSCRIPTS) else f"[{number + 1}]"

    def html(self) -> str:
        if not self.texts:
            return ""
        items = "".join(
            f"<div>{self.mark(text)} {html.escape(text)}</div>" for text in list(self.texts)
        )
        return f'<div style="font-size:12px;color:{FLAT};margin:4px 0 12px">{items}</div>'


def _language(locale: str) -> str:
    return check_locale("ru" if str(locale).lower().startswith("ru") else locale)


def _reason(entry: Mapping, field_name: str, locale: str) -> str:
    reasons = entry.get("reasons") or {}
    reason = reasons.get(field_name) or (entry.get("reason") if field_name == "value" else None)
    if isinstance(reason, Mapping):
        return str(reason.get(_language(locale)) or reason.get("en") or "")
    return str(reason or "")


def normal_variation(snapshot, key: str) -> float:
    """Normal week-to-week variation of a metric, ± % (see the module docstring).

    The sample standard deviation of ``(x_t − x_{t−1}) / x_{t−1} × 100`` over
    the weekly series, skipping weeks whose previous value is 0; at least
    two changes are needed, else :data:`DEFAULT_NOISE_PCT`.
    """
    weekly = (snapshot.data.get("weekly") or []) if snapshot is not None else []
    values = [w.get(key) for w in weekly if key in w]
    changes = [
        (b - a) / abs(a) * 100.0
        for a, b in zip(values[:-1], values[1:], strict=False)
        if a not in (None, 0) and b is not None
    ]
    if len(changes) < 2:
        return DEFAULT_NOISE_PCT
    return float(pd.Series(changes).std(ddof=1))


def change_colour(direction: str, delta_pct: float | None, noise_pct: float) -> str:
    """Colour of a change: :data:`GOOD`, :data:`BAD` or :data:`FLAT` (module docstring)."""
    if direction == "neutral" or is_undefined(delta_pct) or abs(delta_pct) <= noise_pct:
        return FLAT
    better = delta_pct > 0 if direction == "higher" else delta_pct < 0
    return GOOD if better else BAD


def _period_kind(snapshot) -> int | str | None:
    period = snapshot.data.get("period") or {}
    days = period.get("days")
    if days == 7:
        return 7
    if days in (28, 29, 30, 31) and str(period.get("start", "")).endswith("-01"):
        return "month"
    return None


def _change_text(entry: Mapping, field_name: str, unit: str, locale: str) -> tuple[str, float]:
    """(text, relative change in %) of ``delta`` / ``delta_year``."""
    absolute = entry.get(field_name)
    relative = entry.get(f"{field_name}_pct")
    if unit == "percent":
        return format_change(absolute, locale, unit="pp"), relative
    if not is_undefined(relative):
        return format_change(relative, locale, unit="%"), relative
    return format_change(absolute, locale, unit=unit), relative


def tiles(
    snapshot,
    keys: Sequence[str] = ("revenue", "sales", "spend", "romi", "drr", "cac"),
    locale: str = "ru",
    plan: Mapping[str, Mapping] | None = None,
) -> Html:
    """Headline tiles: value, change vs the previous period and vs a year ago.

    Parameters
    ----------
    snapshot : analytics.metrics.snapshot.Snapshot
        The period snapshot.
    keys : sequence of str
        Catalogue keys, 4–6 for a leadership page.
    locale : {"ru", "en"}
    plan : mapping, optional
        ``{key: {"plan": number, "progress_pct": number}}`` (see
        :mod:`analytics.reports.plan`): adds a plan line to the tile.

    Returns
    -------
    Html
        Tiles (inline-block, 2 per row at 390 px) and footnotes for dashes.
    """
    words = _WORDS[_language(locale)]
    notes = Footnotes()
    previous_word = words["previous"][_period_kind(snapshot)]
    parts = ['<div style="margin:8px 0">']
    for key in keys:
        entry = snapshot.metric(key)
        info = metric(key)
        value = entry.get("value")
        shown = html.escape(format_value(value, info.unit, locale))
        if is_undefined(value):
            shown += notes.mark(_reason(entry, "value", locale) or words["notes"])
        lines = []
        for field_name, word in (("delta", previous_word), ("delta_year", words["year_ago"])):
            text, relative = _change_text(entry, field_name, info.unit, locale)
            noise = normal_variation(snapshot, key) if field_name == "delta" else DEFAULT_NOISE_PCT
            colour = change_colour(info.direction, relative, noise)
            if text == DASH:
                text += notes.mark(
                    _reason(entry, field_name, locale)
                    or _reason(
                        entry, "year_ago" if field_name == "delta_year" else "previous", locale
                    )
                    or words["notes"]
                )
            lines.append(
                f'<div style="font-size:13px;color:{colour}">{html.escape(text)} {word}</div>'
            )
        if plan and key in plan:
            target = plan[key]
            progress = format_value(target.get("progress_pct"), "percent", locale, decimals=0)
            lines.append(
                f'<div style="font-size:13px;color:{FLAT}">{words["plan"]} '
                f"{html.escape(format_value(target.get('plan'), info.unit, locale))}"
                f", {words['plan_done']} {html.escape(progress)}</div>"
            )
        maturity = entry.get("maturity") or {}
        if maturity.get("immature"):
            lines.append(f'<div style="font-size:12px;color:{FLAT}">{words["immature"]}</div>')
        parts.append(
            '<div style="display:inline-block;vertical-align:top;box-sizing:border-box;'
            "width:170px;max-width:46%;min-width:150px;margin:0 8px 8px 0;padding:8px 10px;"
            'border:1px solid #ddd;border-radius:6px;background:#fafafa">'
            f'<div style="font-size:13px;color:#444">{html.escape(info.label(locale))}</div>'
            f'<div style="font-size:22px;font-weight:600;white-space:nowrap">{shown}</div>'
            + "".join(lines)
            + "</div>"
        )
    parts.append("</div>")
    return Html("".join(parts) + notes.html())


def conclusion(text: str) -> Html:
    """A section's one-sentence conclusion, escaped, in bold."""
    return Html(
        f'<p style="font-size:16px;font-weight:600;margin:6px 0 10px">{html.escape(text)}</p>'
    )


def heading(text: str, level: int = 2) -> Html:
    """A heading, escaped (``level`` 1–3)."""
    level = min(max(int(level), 1), 3)
    return Html(f"<h{level}>{html.escape(text)}</h{level}>")


def note(text: str) -> Html:
    """A small grey note (a caption, a formula), escaped."""
    return Html(f'<p style="font-size:13px;color:{FLAT};margin:4px 0 12px">{html.escape(text)}</p>')


@dataclass(frozen=True)
class Column:
    """One column of :func:`table`.

    Attributes
    ----------
    name : str
        Column of the frame.
    header : str
        Header shown (already in the page's language).
    unit : str or None
        ``RUB``, ``count``, ``percent``, ``ratio``, ``days``, ``change`` (a
        relative change in %, signed), ``change_pp`` (percentage points,
        signed), ``text``; None = text.
    direction : str
        For change columns: ``higher``/``lower``/``neutral`` colours the change.
    """

    name: str
    header: str
    unit: str | None = None
    direction: str = "neutral"


def column(name: str, locale: str = "ru", header: str | None = None) -> Column:
    """A :class:`Column` of a catalogue metric: header and unit from the catalogue."""
    info = metric(name)
    return Column(name, header or info.label(locale), info.unit, info.direction)


def _cell(value, col: Column, locale: str, notes: Footnotes, dash_note: str) -> tuple[str, str]:
    """(escaped text, inline style) of one cell."""
    if col.unit in (None, "text"):
        text = DASH if is_undefined(value) or value == "" else str(value)
        return html.escape(text), "text-align:left"
    if is_undefined(value):
        return html.escape(DASH) + notes.mark(dash_note), "text-align:right"
    if col.unit.startswith("signed_"):
        text = format_change(value, locale, unit=col.unit.removeprefix("signed_"))
        return html.escape(text), "text-align:right"
    if col.unit in ("change", "change_pp"):
        text = format_change(value, locale, unit="%" if col.unit == "change" else "pp")
        colour = change_colour(col.direction, value, 0.0)
        return html.escape(text), f"text-align:right;color:{colour}"
    return html.escape(format_value(value, col.unit, locale)), "text-align:right"


def table(
    frame: pd.DataFrame,
    columns: Iterable[Column | str],
    locale: str = "ru",
    max_rows: int | None = None,
    caption: str | None = None,
) -> Html:
    """A frame as an HTML table: chosen columns, headers in the page's language.

    Parameters
    ----------
    frame : pandas.DataFrame
        Data; its index is never shown (reset it first to show it).
    columns : iterable of Column or str
        What to show, in order; a ``str`` must be a catalogue key (header and
        unit from the catalogue). A column missing from the frame raises.
    locale : {"ru", "en"}
    max_rows : int, optional
        Show the first rows only.
    caption : str, optional
        Shown above the table.

    Returns
    -------
    Html
        The table inside a box that scrolls sideways on a narrow screen, then
        the footnote for dashes if any.

    Raises
    ------
    KeyError
        A column not in the frame, or a ``str`` column not in the catalogue.
    """
    cols = [c if isinstance(c, Column) else column(c, locale) for c in columns]
    missing = [c.name for c in cols if c.name not in frame.columns]
    if missing:
        raise KeyError(f"table: columns not in the frame: {', '.join(missing)}")
    from analytics.reports.formatting import dash_footnote

    notes = Footnotes()
    dash_note = dash_footnote(locale).lstrip(DASH).strip()
    rows = frame if max_rows is None else frame.head(max_rows)
    head = "".join(
        f'<th style="padding:4px 8px;border-bottom:2px solid #ccc;'
        f'text-align:{"left" if c.unit in (None, "text") else "right"};vertical-align:bottom">'
        f"{html.escape(c.header)}</th>"
        for c in cols
    )
    body = []
    for record in rows[[c.name for c in cols]].itertuples(index=False, name=None):
        cells = []
        for value, col in zip(record, cols, strict=True):
            text, style = _cell(value, col, locale, notes, dash_note)
            cells.append(
                f'<td style="padding:4px 8px;border-bottom:1px solid #eee;'
                f'white-space:nowrap;{style}">{text}</td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    top = f"<p style='margin:4px 0'>{html.escape(caption)}</p>" if caption else ""
    return Html(
        top
        + '<div style="max-width:100%;overflow-x:auto;-webkit-overflow-scrolling:touch">'
        + '<table style="border-collapse:collapse;font-size:14px;margin:0">'
        + f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        + notes.html()
    )


# ------------------------------------------------------------------------- charts


def axis_formatter(unit: str, locale: str = "ru"):
    """A matplotlib tick formatter: figures by the locale, never ``1e8``.

    Money is shortened with the locale's words for thousands and millions
    (``1,5 млн ₽``, ``RUB 1.5M``) by Babel's compact format.
    """
    from babel.numbers import format_compact_decimal
    from matplotlib.ticker import FuncFormatter

    check_locale(locale)

    def money(value, _pos=None):
        if abs(value) >= 10_000:
            short = format_compact_decimal(value, locale=locale, fraction_digits=1)
            return f"{short}\u00a0₽" if locale == "ru" else f"RUB\u00a0{short}"
        return format_value(value, "RUB", locale)

    def number(value, _pos=None):
        if unit == "RUB":
            return money(value)
        if unit == "count" and abs(value) >= 100_000:
            return format_compact_decimal(value, locale=locale, fraction_digits=1)
        if unit in ("percent", "%"):
            return format_value(value, "percent", locale, decimals=0)
        decimals = 0 if float(value).is_integer() else 1
        return format_value(value, unit if unit in ("count", "days") else "ratio", locale, decimals)

    return FuncFormatter(number)


def new_figure(width: float = 5.6, height: float = 3.4):
    """A figure sized to stay legible when shrunk to a 390 px phone (large type)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110, layout="constrained")
    ax.tick_params(labelsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def weekly_chart(
    snapshot,
    keys: Sequence[str] = ("revenue",),
    locale: str = "ru",
    title: str | None = None,
):
    """The snapshot's weekly series of one unit as lines, labelled from the catalogue.

    Parameters
    ----------
    keys : sequence of str
        Keys of ``snapshot.data["weekly"]`` (revenue, sales, spend, leads,
        mql, sql_leads), all of one unit.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from babel.dates import format_date

    units = {metric(k).unit for k in keys}
    if len(units) != 1:
        raise ValueError(f"weekly_chart: keys of one unit only, got {sorted(units)}")
    unit = units.pop()
    weekly = pd.DataFrame.from_records(snapshot.data.get("weekly") or [])
    fig, ax = new_figure()
    if weekly.empty:
        return fig
    starts = pd.to_datetime(weekly["week_start"])
    for key in keys:
        ax.plot(
            starts, weekly[key].astype(float), marker="o", lw=2, label=metric(key).label(locale)
        )
    ax.yaxis.set_major_formatter(axis_formatter(unit, locale))
    ax.set_ylim(bottom=0)
    ticks = list(starts[:: max(1, len(starts) // 4)])
    ax.set_xticks(ticks)
    ax.set_xticklabels([format_date(t.date(), "d MMM", locale=locale) for t in ticks])
    if len(keys) > 1:
        ax.legend(fontsize=10, frameon=False)
    if title:
        ax.set_title(title, fontsize=12, loc="left", wrap=True)
    return fig


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    unit: str,
    locale: str = "ru",
    title: str | None = None,
    signed: bool = False,
):
    """Horizontal bars (long channel names stay legible on a phone).

    ``signed=True`` colours negative bars red and positive green (ROMI);
    otherwise one neutral colour. Undefined values are left out of the chart.
    """
    pairs = [(str(label), float(v)) for label, v in zip(labels, values, strict=True)]
    pairs = [(label, v) for label, v in pairs if not is_undefined(v)]
    fig, ax = new_figure(height=max(2.4, 0.45 * len(pairs) + 1.0))
    if not pairs:
        return fig
    from matplotlib.ticker import MaxNLocator

    names, numbers = zip(*pairs, strict=True)
    colours = [(GOOD if v >= 0 else BAD) if signed else "#3b6ea8" for v in numbers]
    ax.barh(range(len(numbers)), numbers, color=colours)
    ax.set_yticks(range(len(numbers)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(axis_formatter(unit, locale))
    ax.xaxis.set_major_locator(MaxNLocator(4))
    if signed:
        ax.axvline(0, color="#444", lw=1)
    if title:
        ax.set_title(title, fontsize=12, loc="left", wrap=True)
    return fig


def series_chart(
    starts: Sequence,
    series: Mapping[str, Sequence[float]],
    unit: str,
    locale: str = "ru",
    title: str | None = None,
):
    """Lines over dates (one per ``series`` item, its key the legend label).

    Like :func:`weekly_chart` for series that are not in the snapshot (e.g.
    leads against CRM deals per week): dates as ``d MMM`` by Babel, figures by
    :func:`axis_formatter`, the y axis from 0.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from babel.dates import format_date

    fig, ax = new_figure()
    starts = list(pd.to_datetime(pd.Series(list(starts))))
    if not starts:
        return fig
    for label, values in series.items():
        ax.plot(starts, [float(v) for v in values], marker="o", lw=2, label=str(label))
    ax.yaxis.set_major_formatter(axis_formatter(unit, locale))
    ax.set_ylim(bottom=0)
    ticks = starts[:: max(1, len(starts) // 4)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([format_date(t.date(), "d MMM", locale=locale) for t in ticks])
    if len(series) > 1:
        ax.legend(fontsize=10, frameon=False)
    if title:
        ax.set_title(title, fontsize=12, loc="left", wrap=True)
    return fig


def heat_table(
    matrix: pd.DataFrame,
    unit: str,
    locale: str = "ru",
    corner: str = "",
    column_word: str | None = None,
) -> Html:
    """A matrix (cohorts × ages) as an HTML table whose cells are shaded by value.

    Phone-readable replacement of an annotated heatmap: the figures are text
    formatted by the locale (Babel), the shading is the cell's value over the
    matrix's maximum (white = 0, dark blue = maximum), the box scrolls sideways
    on a narrow screen. Undefined cells (an age not reached yet) are empty —
    not a dash, since nothing is missing — and the index is the first column.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Index: row labels (shown as the first column); columns: column labels.
    unit : {"RUB", "count", "percent", "ratio"}
    corner : str
        Header of the first column.
    column_word : str, optional
        A caption over the column headers (e.g. "weeks since first visit").
    """
    numbers = matrix.astype("float64")
    top = float(numbers.max().max()) if numbers.notna().any().any() else 0.0
    cell = "padding:3px 6px;border-bottom:1px solid #eee;white-space:nowrap;text-align:right"
    head = f'<th style="padding:3px 6px;text-align:left">{html.escape(corner)}</th>' + "".join(
        f'<th style="padding:3px 6px;text-align:right">{html.escape(str(c))}</th>'
        for c in matrix.columns
    )
    body = []
    for label, row in numbers.iterrows():
        cells = [f'<td style="{cell};text-align:left">{html.escape(str(label))}</td>']
        for value in row:
            if is_undefined(value):
                cells.append(f'<td style="{cell}"></td>')
                continue
            share = value / top if top > 0 else 0.0
            colour = "#fff" if share > 0.55 else "#222"
            background = f"rgba(33,102,172,{0.08 + 0.85 * max(share, 0.0):.2f})"
            text = html.escape(format_value(value, unit, locale))
            cells.append(f'<td style="{cell};background:{background};color:{colour}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = (
        f'<p style="font-size:13px;color:{FLAT};margin:4px 0">{html.escape(column_word)}</p>'
        if column_word
        else ""
    )
    return Html(
        caption
        + '<div style="max-width:100%;overflow-x:auto;-webkit-overflow-scrolling:touch">'
        + '<table style="border-collapse:collapse;font-size:13px;margin:0 0 12px">'
        + f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


_SNAPSHOT_WORDS = {
    "ru": ("Показатель", "Значение", "Пред. период", "Изменение", "Формула"),
    "en": ("Metric", "Value", "Previous period", "Change", "Formula"),
}


def snapshot_table(
    snapshot, keys: Sequence[str], locale: str = "ru", formula: bool = False
) -> Html:
    """Figures of the period snapshot: metric, value, previous period, change.

    Every figure is the snapshot's (never recomputed), labelled and formatted
    from the catalogue; the change is relative (%) for counts and money and in
    percentage points for percentages, coloured by the metric's direction. An
    undefined value is a dash with the snapshot's reason as a footnote.

    Parameters
    ----------
    snapshot : analytics.metrics.snapshot.Snapshot
    keys : sequence of str
        Catalogue keys, in order.
    formula : bool
        Add the catalogue formula in the page's language.
    """
    words = _SNAPSHOT_WORDS[_language(locale)]
    notes = Footnotes()
    cell = "padding:4px 8px;border-bottom:1px solid #eee;white-space:nowrap"
    heads = words[:4] + ((words[4],) if formula else ())
    head = "".join(
        f'<th style="padding:4px 8px;border-bottom:2px solid #ccc;'
        f'text-align:{"left" if i in (0, 4) else "right"}">{html.escape(h)}</th>'
        for i, h in enumerate(heads)
    )
    body = []
    for key in keys:
        entry, info = snapshot.metric(key), metric(key)
        value = html.escape(format_value(entry.get("value"), info.unit, locale))
        if is_undefined(entry.get("value")):
            value += notes.mark(_reason(entry, "value", locale) or dash_note_text(locale))
        previous = html.escape(format_value(entry.get("previous"), info.unit, locale))
        if is_undefined(entry.get("previous")):
            previous += notes.mark(_reason(entry, "previous", locale) or dash_note_text(locale))
        text, relative = _change_text(entry, "delta", info.unit, locale)
        colour = change_colour(info.direction, relative, 0.0)
        cells = [
            f'<td style="{cell};text-align:left">{html.escape(info.label(locale))}</td>',
            f'<td style="{cell};text-align:right">{value}</td>',
            f'<td style="{cell};text-align:right">{previous}</td>',
            f'<td style="{cell};text-align:right;color:{colour}">{html.escape(text)}</td>',
        ]
        if formula:
            cells.append(
                f'<td style="padding:4px 8px;border-bottom:1px solid #eee;font-size:12px;'
                f'color:{FLAT};min-width:180px">{html.escape(info.formula_text(locale))}</td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return Html(
        '<div style="max-width:100%;overflow-x:auto;-webkit-overflow-scrolling:touch">'
        + '<table style="border-collapse:collapse;font-size:14px;margin:0">'
        + f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        + notes.html()
    )


def dash_note_text(locale: str) -> str:
    """The dash footnote's text without the leading dash."""
    from analytics.reports.formatting import dash_footnote

    return dash_footnote(locale).lstrip(DASH).strip()


def interval_chart(
    labels: Sequence[str],
    values: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    unit: str,
    locale: str = "ru",
    title: str | None = None,
):
    """Horizontal bars with an interval whisker each (a rate with its Wilson interval, a
    channel's credit with its bootstrap interval); rows with an undefined value are left
    out, an undefined bound draws no whisker on that side."""
    rows = [
        (str(label), float(v), lo, hi)
        for label, v, lo, hi in zip(labels, values, lows, highs, strict=True)
        if not is_undefined(v)
    ]
    fig, ax = new_figure(height=max(2.4, 0.45 * len(rows) + 1.0))
    if not rows:
        return fig
    from matplotlib.ticker import MaxNLocator

    names = [r[0] for r in rows]
    numbers = [r[1] for r in rows]
    below = [0.0 if is_undefined(r[2]) else max(r[1] - float(r[2]), 0.0) for r in rows]
    above = [0.0 if is_undefined(r[3]) else max(float(r[3]) - r[1], 0.0) for r in rows]
    ax.barh(
        range(len(rows)),
        numbers,
        color="#3b6ea8",
        xerr=[below, above],
        error_kw={"ecolor": "#222", "capsize": 4, "lw": 1.2},
    )
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(axis_formatter(unit, locale))
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.set_xlim(left=0)
    if title:
        ax.set_title(title, fontsize=12, loc="left", wrap=True)
    return fig
