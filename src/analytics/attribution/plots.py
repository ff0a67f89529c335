"""Attribution figures: credit by model, removal effects, transition heatmap, intervals.

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` state (safe in a library and in a loop); show it in a notebook by
leaving it as the cell's value or with ``display(fig)``, save it with
``fig.savefig``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from analytics.attribution.markov import MarkovAttribution

_PLAIN = FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 10 else f"{v:,.2g}")


def _credit_wide(credit: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Tidy (channel, model, measure columns) or wide (index channel) -> wide."""
    if {"channel", "model"} <= set(credit.columns):
        wide = credit.pivot(index="channel", columns="model", values=measure)
        channels = list(dict.fromkeys(credit["channel"]))
        models = list(dict.fromkeys(credit["model"]))
        return wide.loc[channels, models]
    return credit


def plot_credit(
    credit: pd.DataFrame, measure: str = "conversions", labels: dict | None = None
) -> Figure:
    """Grouped horizontal bars: each channel's credit under each model.

    Parameters
    ----------
    credit : pandas.DataFrame
        Tidy (:func:`~analytics.attribution.comparison.attribute`: ``channel``,
        ``model``, ``conversions``, ``value``) or wide (index channel, one
        column per model, :func:`~analytics.attribution.comparison.compare_models`).
    measure : str, default "conversions"
        Column to plot from a tidy frame.
    labels : dict, optional
        Display names of the models.
    """
    wide = _credit_wide(credit, measure)
    n_ch, n_models = wide.shape
    fig = Figure(figsize=(8, 0.5 * n_ch * max(1, n_models / 3) + 1.5))
    ax = fig.subplots()
    height = 0.8 / max(n_models, 1)
    y = np.arange(n_ch)
    for i, model in enumerate(wide.columns):
        name = (labels or {}).get(model, model)
        ax.barh(y + i * height, wide[model].to_numpy(), height=height, label=name)
    ax.set_yticks(y + height * (n_models - 1) / 2, list(wide.index))
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(_PLAIN)
    ax.set(xlabel=measure, title=f"Credit by channel and model ({measure})")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def plot_removal_effects(model: MarkovAttribution | pd.Series) -> Figure:
    """Bars of the removal effect of every channel, % of conversions lost without it."""
    effects = model.removal_effects_ if isinstance(model, MarkovAttribution) else model
    fig = Figure(figsize=(7, 0.4 * len(effects) + 1.5))
    ax = fig.subplots()
    ax.barh(list(effects.index), effects.to_numpy() * 100.0, color="#4c72b0")
    ax.invert_yaxis()
    ax.set(xlabel="conversions lost without the channel, %", title="Removal effects")
    fig.tight_layout()
    return fig


def plot_transitions(model: MarkovAttribution, max_states: int = 25) -> Figure:
    """Heatmap of transition probabilities (the ``max_states`` busiest transient states).

    Rows are ``from`` states, columns ``to`` states plus ``(conversion)`` and
    ``(null)``; cells are probabilities in %.
    """
    matrix = model.transition_matrix_.toarray()
    labels = model.state_labels_
    n = len(model.states_)
    inflow = matrix[:, :n].sum(axis=0)
    keep = [0] + [int(i) for i in np.argsort(-inflow[1:])[: max_states - 1] + 1]
    rows = sorted(keep)
    cols = [c for c in rows if c != 0] + [n, n + 1]
    shown = matrix[np.ix_(rows, cols)] * 100.0
    fig = Figure(figsize=(0.45 * len(cols) + 3, 0.4 * len(rows) + 2))
    ax = fig.subplots()
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(cols)), [labels[c] for c in cols], rotation=60, ha="right")
    ax.set_yticks(range(len(rows)), [labels[r] for r in rows])
    for (i, j), v in np.ndenumerate(shown):
        if v >= 0.5:
            ax.text(
                j,
                i,
                f"{v:.0f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v > 60 else "black",
            )
    fig.colorbar(image, ax=ax, label="transition probability, %")
    ax.set(xlabel="to", ylabel="from", title=f"Transitions, Markov order {model.order}")
    fig.tight_layout()
    return fig


def plot_intervals(table: pd.DataFrame, measure: str = "conversions") -> Figure:
    """Credit with its bootstrap interval per channel and model (:func:`bootstrap_credit`).

    Hollow markers: the interval covers zero (not distinguishable from zero).
    """
    data = table[table["measure"] == measure]
    models = list(dict.fromkeys(data["model"]))
    channels = list(dict.fromkeys(data["channel"]))
    fig = Figure(figsize=(8, 0.5 * len(channels) * max(1, len(models) / 3) + 1.5))
    ax = fig.subplots()
    step = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        part = data[data["model"] == model].set_index("channel").loc[channels]
        y = np.arange(len(channels)) + i * step
        err = np.vstack([part["credit"] - part["lower"], part["upper"] - part["credit"]])
        bar = ax.errorbar(
            part["credit"], y, xerr=np.clip(err, 0, None), fmt="o", label=model, capsize=2
        )
        faint = ~part["distinguishable"].to_numpy()
        if faint.any():
            ax.scatter(
                part["credit"][faint],
                y[faint],
                s=40,
                facecolors="white",
                edgecolors=bar[0].get_color(),
                zorder=3,
            )
    ax.set_yticks(np.arange(len(channels)) + step * (len(models) - 1) / 2, channels)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(_PLAIN)
    ax.set(xlabel=measure, title="Credit with bootstrap interval (hollow: covers zero)")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
