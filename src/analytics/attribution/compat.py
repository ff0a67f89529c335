"""ChannelAttribution's functions, with its argument names and output shapes, computed exactly.

A ChannelAttribution (R or Python, v2) user can switch by changing the import::

    from analytics.attribution.compat import heuristic_models, markov_model

Arguments keep ChannelAttribution's names (``Data``, ``var_path``,
``var_conv``, ``var_value``, ``var_null``, ``order``, ``sep``, ``out_more``,
``max_order``, ``flg_equal``); its simulation settings (``nsim_start``,
``max_step``, ``ncore``, ``nfold``, ``seed``, ``conv_par``,
``rate_step_sim``, ``verbose``, ``flg_adv``, ``flg_pro``, ``roc_npt``,
``plot``) are accepted and ignored, because nothing is simulated: removal
effects come from a sparse linear solve (:mod:`.markov`), so results are exact
and repeatable. Outputs have ChannelAttribution's columns, channels in order
of first appearance in ``Data``:

* :func:`heuristic_models` -> ``channel_name``, ``first_touch_conversions``,
  ``first_touch_value``, ``last_touch_conversions``, ``last_touch_value``,
  ``linear_touch_conversions``, ``linear_touch_value`` (without ``var_value``:
  ``first_touch``, ``last_touch``, ``linear_touch``, as ChannelAttribution).
* :func:`markov_model` -> ``channel_name``, ``total_conversions`` and with
  ``var_value`` ``total_conversion_value``; with ``out_more=True`` a dict
  ``{"result", "transition_matrix", "removal_effects"}``: the transition
  matrix as ``channel_from``, ``channel_to``, ``transition_probability`` rows
  (states named by channel ids ``"1"``, ``"1 2"`` as ChannelAttribution, plus
  ``(start)``, ``(conversion)``, ``(null)``), removal effects as
  ``channel_name``, ``removal_effect`` (with value: ``removal_effects_conversion``,
  ``removal_effects_conversion_value``).
* :func:`transition_matrix` -> ``{"channels": id_channel, channel_name;
  "transition_matrix": channel_from, channel_to, transition_probability}``.
* :func:`auto_markov_model` -> as :func:`markov_model`, order chosen by BIC
  (:func:`~analytics.attribution.markov.order_selection`), not by
  ChannelAttribution's penalised ROC AUC; ``out_more=True`` adds
  ``"order_selection"``.

The chain is ChannelAttribution's: the first state of a walk is the first
``min(n, order)`` channels of the path (``window="full"``), a path with
several conversions and nulls counts each journey, and the transition matrix
of :func:`markov_model` leaves self-loops out (rows renormalised; removal
effects do not depend on self-loops). ``transition_matrix(flg_equal=True)``
keeps them.

Uncertainty: ``ci=0.9`` adds ``<column>_lower`` and ``<column>_upper`` for
every credit column, a percentile interval from ``n_boot`` bootstrap
replicates over journeys (:mod:`.uncertainty`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.attribution.markov import (
    CONVERSION,
    MAX_STATES,
    NULL,
    START,
    MarkovAttribution,
    order_selection,
)
from analytics.attribution.path_frames import EncodedPaths, encode_paths
from analytics.attribution.uncertainty import credit_replicates, share_matrix

HEURISTICS = {"first_touch": "first_touch", "last_touch": "last_touch", "linear_touch": "linear"}
"""ChannelAttribution's heuristic column stems -> native model names."""


def _encode(Data, var_path, var_conv, var_value, var_null, sep) -> EncodedPaths:
    if not isinstance(Data, pd.DataFrame):
        raise TypeError(f"Data must be a pandas DataFrame, got {type(Data).__name__}")
    for name, column in (("var_value", var_value), ("var_null", var_null)):
        if column is not None and column not in Data.columns:
            raise KeyError(f"{name}: Data has no column {column!r}; columns: {list(Data.columns)}")
    return encode_paths(
        Data, path=var_path, conversions=var_conv, value=var_value, nulls=var_null, sep=sep
    )


def _add_interval(
    frame: pd.DataFrame, columns: dict[str, tuple[str, int]], reps: dict, ci: float
) -> pd.DataFrame:
    """Insert ``<col>_lower``/``<col>_upper`` after each credit column."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1, got {ci}")
    out = frame.copy()
    for column, (model, measure) in columns.items():
        lower, upper = np.quantile(reps[model][:, :, measure], [(1 - ci) / 2, (1 + ci) / 2], axis=0)
        at = out.columns.get_loc(column) + 1
        out.insert(at, f"{column}_lower", lower)
        out.insert(at + 1, f"{column}_upper", upper)
    return out


def heuristic_models(
    Data: pd.DataFrame,
    var_path: str,
    var_conv: str,
    var_value: str | None = None,
    sep: str = ">",
    ci: float | None = None,
    n_boot: int = 200,
    seed: int = 0,
    **ignored,
) -> pd.DataFrame:
    """First-touch, last-touch and linear conversions (and value) by channel.

    For a path ``c_1 > ... > c_n`` with ``w`` conversions (or value): ``w`` to
    ``c_1`` (first touch), ``w`` to ``c_n`` (last touch), ``w / n`` to every
    touch (linear; a repeated channel gets every touch's share).

    Example: paths ``a > b`` (2 conversions), ``b > a > a`` (3), ``b`` (1):
    first touch a = 2, b = 3 + 1 = 4; last touch a = 3, b = 2 + 1 = 3;
    linear a = 2/2 + 3 x 2/3 = 3, b = 2/2 + 3/3 + 1 = 3.

    Parameters
    ----------
    Data : pandas.DataFrame
        One row per path.
    var_path, var_conv, var_value : str
        Columns of paths (strings split on ``sep``), conversions and
        (optional) conversion value.
    sep : str, default ">"
        Channel separator; whitespace around channels is ignored.
    ci : float, optional
        Add a bootstrap percentile interval at this level per credit column.
    n_boot, seed : int
        Bootstrap replicates and seed (with ``ci``).

    Returns
    -------
    pandas.DataFrame
        ChannelAttribution's columns (see the module docstring).
    """
    enc = _encode(Data, var_path, var_conv, var_value, None, sep)
    amounts = np.stack([enc.conversions, enc.value], axis=1)
    out = pd.DataFrame({"channel_name": list(enc.channels)})
    columns = {}
    for stem, model in HEURISTICS.items():
        credit = np.asarray(share_matrix(enc, model).T @ amounts)
        if var_value is None:
            out[stem] = credit[:, 0]
            columns[stem] = (model, 0)
        else:
            out[f"{stem}_conversions"] = credit[:, 0]
            out[f"{stem}_value"] = credit[:, 1]
            columns[f"{stem}_conversions"] = (model, 0)
            columns[f"{stem}_value"] = (model, 1)
    if ci is not None:
        reps = credit_replicates(enc, list(HEURISTICS.values()), n_boot, seed)
        out = _add_interval(out, columns, reps, ci)
    return out


def _state_label(state: tuple, ids: dict[str, int]) -> str:
    return START if state == (START,) else " ".join(str(ids[c]) for c in state)


def _transition_rows(model: MarkovAttribution, ids: dict, self_loops: bool) -> pd.DataFrame:
    structure = model.structure_
    n = structure.n_states
    matrix = model.transition_matrix_.tocoo()
    frame = pd.DataFrame({"src": matrix.row, "dst": matrix.col, "p": matrix.data})
    frame = frame[frame["src"] < n]
    if not self_loops:
        loop = frame["src"] == frame["dst"]
        stay = frame.loc[loop].set_index("src")["p"]
        frame = frame[~loop].copy()
        frame["p"] = frame["p"] / (1.0 - frame["src"].map(stay).fillna(0.0))
    rank = np.concatenate([np.argsort(np.argsort(structure.first_seen)), [n, n + 1]])
    frame = frame.assign(a=rank[frame["src"]], b=rank[frame["dst"]]).sort_values(["a", "b"])
    labels = [_state_label(s, ids) for s in structure.states] + [CONVERSION, NULL]
    labels = np.asarray(labels, dtype=object)
    return pd.DataFrame(
        {
            "channel_from": labels[frame["src"].to_numpy()],
            "channel_to": labels[frame["dst"].to_numpy()],
            "transition_probability": frame["p"].to_numpy(),
        }
    )


def _markov(
    enc: EncodedPaths,
    order: int,
    has_value: bool,
    out_more: bool,
    ci: float | None,
    n_boot: int,
    seed: int,
    max_states: int,
):
    model = MarkovAttribution(order=order, window="full", max_states=max_states).fit(enc)
    table = model.attribution_
    result = pd.DataFrame(
        {"channel_name": table["channel"], "total_conversions": table["conversions"]}
    )
    if has_value:
        result["total_conversion_value"] = table["value"]
    if ci is not None:
        key = f"markov_{order}"
        reps = credit_replicates(enc, [key], n_boot, seed, window="full", max_states=max_states)
        columns = {"total_conversions": (key, 0)}
        if has_value:
            columns["total_conversion_value"] = (key, 1)
        result = _add_interval(result, columns, reps, ci)
    if not out_more:
        return result
    ids = {c: i + 1 for i, c in enumerate(enc.channels)}
    if has_value:
        effects = pd.DataFrame(
            {
                "channel_name": table["channel"],
                "removal_effects_conversion": table["removal_effect"],
                "removal_effects_conversion_value": table["removal_effect_value"],
            }
        )
    else:
        effects = pd.DataFrame(
            {"channel_name": table["channel"], "removal_effect": table["removal_effect"]}
        )
    return {
        "result": result,
        "transition_matrix": _transition_rows(model, ids, self_loops=False),
        "removal_effects": effects,
    }


def markov_model(
    Data: pd.DataFrame,
    var_path: str,
    var_conv: str,
    var_value: str | None = None,
    var_null: str | None = None,
    order: int = 1,
    out_more: bool = False,
    sep: str = ">",
    ci: float | None = None,
    n_boot: int = 200,
    seed: int = 0,
    max_states: int = MAX_STATES,
    **ignored,
):
    """Markov chain attribution of order ``order`` with exact removal effects.

    Every journey is a walk ``(start) -> states -> (conversion) | (null)``;
    ``removal_effect_c = 1 - P(conversion without c) / P(conversion)`` and
    ``total_conversions_c = total x RE_c / sum_d RE_d`` (value likewise with the
    value absorbed at each state). See :mod:`.markov` for the linear system.

    Example (order 1): paths ``a`` (2 conversions, 1 null), ``b`` (1, 0),
    ``a > b`` (1, 0). From ``(start)``: to a 4/5, to b 1/5; from a:
    conversion 2/4, null 1/4, b 1/4; from b: conversion 2/2. P(conversion) =
    4/5 (1/2 + 1/4) + 1/5 = 4/5; without a: 1/5, RE = 1 - (1/5)/(4/5) = 0.75;
    without b: 4/5 x 1/2 = 2/5, RE = 0.5; 4 conversions -> a 4 x 0.75/1.25 =
    2.4, b 1.6.

    Parameters
    ----------
    Data, var_path, var_conv, var_value, var_null, sep
        As ChannelAttribution; ``var_null`` (journeys without conversion) is
        optional (0 when missing).
    order : int, default 1
        Any order >= 1; ``ValueError`` when the chain has more than
        ``max_states`` states.
    out_more : bool, default False
        Also return the transition matrix and removal effects.
    ci, n_boot, seed
        Bootstrap interval (see :func:`heuristic_models`).

    Returns
    -------
    pandas.DataFrame or dict
        ``result`` frame, or with ``out_more`` a dict of frames.
    """
    enc = _encode(Data, var_path, var_conv, var_value, var_null, sep)
    return _markov(enc, order, var_value is not None, out_more, ci, n_boot, seed, max_states)


def auto_markov_model(
    Data: pd.DataFrame,
    var_path: str,
    var_conv: str,
    var_null: str,
    var_value: str | None = None,
    max_order: int = 10,
    out_more: bool = False,
    sep: str = ">",
    ci: float | None = None,
    n_boot: int = 200,
    seed: int = 0,
    max_states: int = MAX_STATES,
    **ignored,
):
    """:func:`markov_model` with the order that minimises BIC among 1..``max_order``.

    The criterion (:func:`~analytics.attribution.markov.order_selection`) is
    the Bayesian information criterion of the walks -- exact and repeatable --
    where ChannelAttribution uses a penalised ROC AUC of simulated conversion
    probabilities; the two can pick different orders. With ``out_more=True``
    the dict also holds ``"order_selection"`` (the BIC table).
    """
    enc = _encode(Data, var_path, var_conv, var_value, var_null, sep)
    table = order_selection(enc, max_order, window="full", max_states=max_states)
    order = int(table.loc[table["selected"], "order"].iloc[0])
    out = _markov(enc, order, var_value is not None, out_more, ci, n_boot, seed, max_states)
    if out_more:
        out["order_selection"] = table
    return out


def choose_order(
    Data: pd.DataFrame,
    var_path: str,
    var_conv: str,
    var_null: str,
    max_order: int = 10,
    sep: str = ">",
    **ignored,
) -> dict:
    """The order :func:`auto_markov_model` would use: ``{"suggested_order", "bic"}``."""
    enc = _encode(Data, var_path, var_conv, None, var_null, sep)
    table = order_selection(enc, max_order, window="full")
    return {
        "suggested_order": int(table.loc[table["selected"], "order"].iloc[0]),
        "bic": table,
    }


def transition_matrix(
    Data: pd.DataFrame,
    var_path: str,
    var_conv: str,
    var_null: str,
    order: int = 1,
    sep: str = ">",
    flg_equal: bool = True,
    **ignored,
) -> dict:
    """Transition probabilities of the order-``order`` chain as ChannelAttribution returns them.

    ``flg_equal=True`` keeps transitions from a state to itself (``a > a``);
    ``False`` drops them and renormalises the rows.

    Returns
    -------
    dict
        ``channels``: ``id_channel`` (1-based, first appearance),
        ``channel_name``; ``transition_matrix``: ``channel_from``,
        ``channel_to``, ``transition_probability``.
    """
    enc = _encode(Data, var_path, var_conv, None, var_null, sep)
    model = MarkovAttribution(order=order, window="full").fit(enc)
    ids = {c: i + 1 for i, c in enumerate(enc.channels)}
    return {
        "channels": pd.DataFrame(
            {"id_channel": list(ids.values()), "channel_name": list(ids.keys())}
        ),
        "transition_matrix": _transition_rows(model, ids, self_loops=flg_equal),
    }
