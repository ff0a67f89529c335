"""Aggregated paths: the frame attribution models read, and its integer encoding.

One row per distinct channel sequence. Columns: ``path`` (tuple of channels),
``path_str`` (``"a > b"``), ``length``, ``journeys``, ``conversions``,
``value`` and ``nulls`` (non-converting journeys), with
``journeys = conversions + nulls``. :class:`EncodedPaths` holds the same paths
as integer arrays so that every model shares one encoding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PATH_SEPARATOR = " > "
"""Separator of channels in ``path_str``."""

PATH_COLUMNS = ("path", "path_str", "length", "journeys", "conversions", "value", "nulls")
"""Columns of an aggregated paths frame."""


@dataclass(frozen=True)
class EncodedPaths:
    """Aggregated paths as integer arrays (compressed sparse rows of channel codes).

    Path ``p`` is ``channels[codes[offsets[p]:offsets[p + 1]]]``; the arrays
    are not to be modified (derived arrays such as :attr:`position` are
    computed once and cached). Every model
    works on this form, so its cost grows with the number of distinct paths and
    touches in them, not with the number of journeys.

    Parameters
    ----------
    channels : tuple of str
        Channel names; a code is an index into it.
    codes : numpy.ndarray of int64
        Channel code of every touch of every path, path after path.
    offsets : numpy.ndarray of int64
        Start of every path in ``codes``, plus the total length at the end.
    conversions, value, nulls : numpy.ndarray of float64
        Per path: converting journeys, their value, non-converting journeys.
    has_value : bool, default True
        Whether ``value`` came from the data (``False``: no value column, zeros).
    """

    channels: tuple[str, ...]
    codes: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    has_value: bool = True

    @property
    def n_paths(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @cached_property
    def lengths(self) -> np.ndarray:
        """Touches per path."""
        return np.diff(self.offsets)

    @cached_property
    def path_of_touch(self) -> np.ndarray:
        """Index of the path every touch belongs to."""
        return np.repeat(np.arange(self.n_paths), self.lengths)

    @cached_property
    def position(self) -> np.ndarray:
        """0-based position of every touch within its path."""
        return np.arange(len(self.codes)) - np.repeat(self.offsets[:-1], self.lengths)

    def weight(self, weight: str) -> np.ndarray:
        """Per-path amount to share out: ``conversions`` or ``value``."""
        if weight == "conversions":
            return self.conversions
        if weight == "value":
            return self.value
        raise ValueError(f"weight must be 'conversions' or 'value', got {weight!r}")

    @cached_property
    def journeys(self) -> np.ndarray:
        """Journeys per path, ``conversions + nulls``."""
        return self.conversions + self.nulls

    def with_counts(
        self, conversions: np.ndarray, nulls: np.ndarray, value: np.ndarray | None = None
    ) -> EncodedPaths:
        """The same paths with other per-path counts (e.g. a bootstrap replicate)."""
        return EncodedPaths(
            channels=self.channels,
            codes=self.codes,
            offsets=self.offsets,
            conversions=np.asarray(conversions, dtype=np.float64),
            value=self.value if value is None else np.asarray(value, dtype=np.float64),
            nulls=np.asarray(nulls, dtype=np.float64),
            has_value=self.has_value,
        )

    def channel_sum(self, touch_weights: np.ndarray) -> pd.Series:
        """Sum per-touch amounts by channel (every channel listed, zeros included)."""
        sums = np.bincount(self.codes, weights=touch_weights, minlength=self.n_channels)
        return pd.Series(sums, index=pd.Index(self.channels, name="channel"), dtype="float64")


PathLike = str | Sequence[str]
"""A path: a string ``"a > b"`` split on the separator, or a sequence of channels."""


def split_paths(paths: Sequence[PathLike], sep: str = ">") -> tuple[np.ndarray, np.ndarray, tuple]:
    """Channel codes and lengths of paths given as strings or sequences of channels.

    A string is split on ``sep`` and every channel name is stripped of
    surrounding whitespace, so with ``sep=">"`` both ``"a>b"`` and ``"a > b"``
    are the two channels ``a`` and ``b`` (never characters); an empty string, an
    empty sequence or a missing value (NaN/None) is a path without touches.
    Channels are coded in order of first appearance.

    Strings are parsed by Arrow's C++ string kernels (:func:`_split_arrow`),
    so the cost is a few C loops over the characters, not a Python loop per
    path or token. Sequences of channels are joined with a record marker,
    split once by :meth:`str.split` and the tokens factorised.

    Parameters
    ----------
    paths : sequence of str or of sequences of str
        One path per element.
    sep : str, default ">"
        Separator of channels within a string path (whitespace around it is
        ignored).

    Returns
    -------
    tuple of (numpy.ndarray, numpy.ndarray, tuple of str)
        Channel code of every touch (path after path), touches per path, channels.
    """
    token_sep = sep.strip() or sep
    if not token_sep:
        raise ValueError("sep must not be empty")
    if not isinstance(paths, pd.Series | np.ndarray | list | tuple):
        paths = list(paths)
    parsed = _split_arrow(paths, token_sep)
    if parsed is not None:
        return parsed
    if isinstance(paths, pd.Series) and isinstance(paths.dtype, pd.StringDtype):
        all_str = not paths.isna().any()
        items = paths.tolist()
    else:
        items = list(paths)
        # C-level type scan; "string" means every element is a str (no NaN/None)
        all_str = pd.api.types.infer_dtype(items, skipna=False) == "string"
    n = len(items)
    if all_str:
        marker = "\x1f"
        tokens = (token_sep + marker + token_sep).join(items).split(token_sep) if n else []
    else:
        tokens = []
        for p in items:
            if isinstance(p, str):
                tokens.extend(p.split(token_sep))
            elif p is None or (isinstance(p, float) and np.isnan(p)):
                pass
            else:
                tokens.extend(str(c) for c in p)
            tokens.append("\x1f")
        tokens = tokens[:-1]
    raw_codes, uniques = pd.factorize(pd.Series(tokens, dtype=object), use_na_sentinel=True)
    remap = np.empty(len(uniques) + 1, dtype=np.int64)  # last slot: NaN tokens
    remap[-1] = -2
    names: dict[str, int] = {}
    for i, raw in enumerate(uniques):
        if raw == "\x1f":
            remap[i] = -1
            continue
        name = str(raw).strip()
        if not name:
            remap[i] = -2
            continue
        remap[i] = names.setdefault(name, len(names))
    codes = remap[raw_codes]
    path_of_token = np.cumsum(codes == -1)
    real = codes >= 0
    lengths = np.bincount(path_of_token[real], minlength=n).astype(np.int64)[:n]
    return codes[real], lengths, tuple(names)


def _split_arrow(paths, sep: str) -> tuple[np.ndarray, np.ndarray, tuple] | None:
    """:func:`split_paths` for string paths, with Arrow's string kernels.

    The paths are converted once to an Arrow ``large_string`` array (missing
    values become empty paths), split on ``sep`` by
    :func:`pyarrow.compute.split_pattern` and the raw tokens (whitespace
    included) dictionary-encoded by :func:`pyarrow.compute.dictionary_encode`,
    all in C++ without a Python object per path or token; only the few
    distinct raw tokens are stripped with :meth:`str.strip`, and raw tokens
    that strip to the same name share its code. Returns ``None`` (use the
    ``str`` path) when an element is neither a string nor missing.
    """
    try:
        arr = pa.array(paths, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), ()
    tokens = pc.split_pattern(arr, sep)
    per_path = pc.list_value_length(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    encoded = pc.dictionary_encode(pc.list_flatten(tokens))
    raw = encoded.indices.to_numpy(zero_copy_only=False)
    # dictionary_encode numbers raw tokens by first appearance (its memo table);
    # names keep that order, raw variants of one name share its code
    remap = np.empty(len(encoded.dictionary), dtype=np.int64)
    names: dict[str, int] = {}
    for i, raw_name in enumerate(encoded.dictionary.to_pylist()):
        name = raw_name.strip()
        remap[i] = names.setdefault(name, len(names)) if name else -1
    codes = remap[raw]
    if (remap >= 0).all():
        return codes, per_path, tuple(names)
    real = codes >= 0
    path_of_token = np.repeat(np.arange(n), per_path)
    lengths = np.bincount(path_of_token[real], minlength=n).astype(np.int64)
    return codes[real], lengths, tuple(names)


def encode_paths(
    paths: pd.DataFrame | EncodedPaths,
    path: str = "path",
    conversions: str = "conversions",
    value: str | None = "value",
    nulls: str | None = "nulls",
    sep: str = ">",
) -> EncodedPaths:
    """Turn an aggregated paths frame into :class:`EncodedPaths` (returned as is if it is one).

    Parameters
    ----------
    paths : pandas.DataFrame or EncodedPaths
        One row per path (repeated paths are fine: every row is its own path).
    path : str, default "path"
        Column of paths: strings split on ``sep`` (:func:`split_paths`) or
        sequences of channels.
    conversions : str, default "conversions"
        Column of converting journeys.
    value : str or None, default "value"
        Column of conversion value (RUB); optional -- a missing column (or
        ``None``) means no value, and value-weighted models share out 0.
    nulls : str or None, default "nulls"
        Column of non-converting journeys; optional (0 when missing).
    sep : str, default ">"
        Channel separator of string paths.

    Paths with no touches are dropped. Channels are coded in order of first
    appearance.
    """
    if isinstance(paths, EncodedPaths):
        return paths
    for label, column in (("path", path), ("conversions", conversions)):
        if column not in paths.columns:
            raise KeyError(
                f"paths have no {label} column {column!r}; columns: {list(paths.columns)}"
            )
    codes, lengths, channels = split_paths(paths[path], sep)
    keep = lengths > 0
    every = bool(keep.all())

    def column(name: str | None) -> np.ndarray | None:
        if name is None or name not in paths.columns:
            return None
        out = pd.to_numeric(paths[name], errors="coerce").to_numpy(dtype=np.float64)
        valid = out >= 0  # False for NaN too
        if not valid.all():
            row = int(np.flatnonzero(~valid)[0])
            raise ValueError(f"column {name!r}, row {row}: must be a number >= 0")
        return out if every else out[keep]

    conv = column(conversions)
    val = column(value)
    null = column(nulls)
    offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths if every else lengths[keep], out=offsets[1:])
    return EncodedPaths(
        channels=channels,
        codes=codes,
        offsets=offsets,
        conversions=conv,
        value=val if val is not None else np.zeros_like(conv),
        nulls=null if null is not None else np.zeros_like(conv),
        has_value=val is not None,
    )


def aggregate_sequences(
    codes: np.ndarray,
    lengths: np.ndarray,
    converted: np.ndarray,
    value: np.ndarray,
    channels: Sequence[str],
) -> pd.DataFrame:
    """Aggregate journeys given as integer arrays into distinct paths.

    Parameters
    ----------
    codes : numpy.ndarray of int
        Channel code of every touch, journey after journey, in touch order.
    lengths : numpy.ndarray of int
        Touches per journey (journeys with 0 touches are dropped).
    converted : numpy.ndarray of bool
        Per journey: ended with a conversion.
    value : numpy.ndarray of float
        Per journey: conversion value (ignored where not converted).
    channels : sequence of str
        Channel name of every code.

    Returns
    -------
    pandas.DataFrame
        The aggregated paths (columns :data:`PATH_COLUMNS`), most frequent
        first. Journeys are grouped by length and the rows of each length are
        deduplicated with ``numpy.unique(axis=0)``, so memory stays at one copy
        of the touches.
    """
    codes = np.asarray(codes)
    lengths = np.asarray(lengths, dtype=np.int64)
    converted = np.asarray(converted, dtype=bool)
    value = np.where(converted, np.asarray(value, dtype=np.float64), 0.0)
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    small = codes.astype(np.int16 if len(channels) < 2**15 else np.int32)
    names = np.asarray(channels, dtype=object)
    blocks = []
    for length in np.unique(lengths[lengths > 0]):
        rows = np.flatnonzero(lengths == length)
        matrix = small[starts[rows][:, None] + np.arange(length)]
        unique, inverse = np.unique(matrix, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        n = len(unique)
        conv = np.bincount(inverse, weights=converted[rows], minlength=n)
        total = np.bincount(inverse, minlength=n).astype(np.float64)
        blocks.append(
            pd.DataFrame(
                {
                    "path": list(map(tuple, names[unique])),
                    "length": np.full(n, length, dtype=np.int64),
                    "journeys": total,
                    "conversions": conv,
                    "value": np.bincount(inverse, weights=value[rows], minlength=n),
                    "nulls": total - conv,
                }
            )
        )
    if not blocks:
        return empty_paths()
    out = pd.concat(blocks, ignore_index=True)
    out.insert(1, "path_str", [PATH_SEPARATOR.join(p) for p in out["path"]])
    out = out.sort_values(["journeys", "path_str"], ascending=[False, True], ignore_index=True)
    return out[list(PATH_COLUMNS)]


def empty_paths() -> pd.DataFrame:
    """An aggregated paths frame without rows."""
    return pd.DataFrame(
        {
            "path": pd.Series(dtype=object),
            "path_str": pd.Series(dtype=object),
            "length": pd.Series(dtype="int64"),
            **{c: pd.Series(dtype="float64") for c in ("journeys", "conversions", "value")},
            "nulls": pd.Series(dtype="float64"),
        }
    )


def aggregate_paths(touches: pd.DataFrame) -> pd.DataFrame:
    """Aggregate a long touch table into distinct paths.

    Parameters
    ----------
    touches : pandas.DataFrame
        One row per touch with ``journey_id``, ``touch_index`` (or
        ``visit_start``), ``channel``, ``converted`` and ``value`` (the last two
        constant within a journey), e.g. :attr:`Journeys.touches`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PATH_COLUMNS`, one row per distinct channel sequence.
    """
    if touches.empty:
        return empty_paths()
    order = "touch_index" if "touch_index" in touches.columns else "visit_start"
    # only the columns read below are sorted (a copy of every column of a 10M-visit
    # touch table is ~150 MB)
    needed = touches[["journey_id", order, "channel", "converted", "value"]]
    t = needed.sort_values(["journey_id", order], kind="stable")
    journey, _ = pd.factorize(t["journey_id"])
    channel_codes, channels = pd.factorize(t["channel"], sort=True)
    first = np.flatnonzero(np.r_[True, journey[1:] != journey[:-1]])
    lengths = np.diff(np.r_[first, len(journey)])
    return aggregate_sequences(
        channel_codes,
        lengths,
        t["converted"].to_numpy(dtype=bool)[first],
        t["value"].to_numpy(dtype=np.float64)[first],
        list(channels),
    )


def paths_from_records(records: Iterable[tuple]) -> pd.DataFrame:
    """Build an aggregated paths frame from ``(path, conversions, nulls[, value])`` records.

    A path is a sequence of channels or a string ``"a > b"``. Repeated paths are
    summed; ``value`` defaults to ``conversions``. Handy for hand examples::

        paths_from_records([("C1 > C2", 1, 0), ("C1", 2, 1), ("C2", 1, 0)])
    """
    rows = {}
    for record in records:
        path, conversions, nulls, *rest = record
        if isinstance(path, str):
            path = tuple(p.strip() for p in path.split(">")) if path.strip() else ()
        path = tuple(path)
        value = float(rest[0]) if rest else float(conversions)
        conv0, val0, null0 = rows.get(path, (0.0, 0.0, 0.0))
        rows[path] = (conv0 + conversions, val0 + value, null0 + nulls)
    out = pd.DataFrame(
        {
            "path": list(rows),
            "path_str": [PATH_SEPARATOR.join(p) for p in rows],
            "length": np.array([len(p) for p in rows], dtype=np.int64),
            "conversions": np.array([r[0] for r in rows.values()], dtype=np.float64),
            "value": np.array([r[1] for r in rows.values()], dtype=np.float64),
            "nulls": np.array([r[2] for r in rows.values()], dtype=np.float64),
        }
    )
    out["journeys"] = out["conversions"] + out["nulls"]
    return out[list(PATH_COLUMNS)] if rows else empty_paths()
