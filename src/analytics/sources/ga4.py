"""GA4 BigQuery export events (Parquet or NDJSON) -> ``visits`` built from sessions.

The BigQuery export holds one row per event (``events_YYYYMMDD``). Fields read
(nested as in BigQuery; a missing field is NULL):

* ``event_name``, ``event_timestamp`` (microseconds since the epoch, UTC),
  ``user_pseudo_id`` (the cookie: ``visitor_id``);
* ``event_params``: list of ``{key, value: {string_value, int_value,
  float_value, double_value}}`` with ``ga_session_id``, ``ga_session_number``,
  ``page_location`` and, on some events, ``source`` / ``medium`` /
  ``campaign`` / ``content`` / ``term``;
* ``collected_traffic_source``: ``manual_source``, ``manual_medium``,
  ``manual_campaign_name``, ``manual_content``, ``manual_term``, ``gclid``
  (the UTM of the event);
* ``traffic_source``: ``source``, ``medium``, ``name`` (the user's *first*
  acquisition, used only for a user's first session with no other source);
* ``device.category`` (desktop / mobile / tablet).

Sessions
--------
A session is ``(user_pseudo_id, ga_session_id)``; ``visit_id`` is
``user_pseudo_id.ga_session_id`` (``ga_session_id`` alone is a start time in
seconds, unique per user only). Per session:

* ``visit_start`` = first event time, converted from UTC to ``timezone``
  (naive local, whole seconds);
* ``pageviews`` = number of ``page_view`` events (a session without one is
  quarantined by the ``pageviews >= 1`` check);
* ``duration_s`` = last event time - first event time, seconds;
* ``landing_page`` = path of the first ``page_location``;
* ``goal_pricing`` = some ``page_location`` path matches ``pricing_page``;
* UTM = the first event's ``collected_traffic_source`` manual values, else
  the first ``source``/``medium``/... event parameters; channel from that
  source/medium, else ``google``/``cpc`` when a ``gclid`` was seen, else the
  user's first-touch ``traffic_source`` in the user's first session, else
  direct.

An event without ``user_pseudo_id`` or ``ga_session_id`` cannot be put in a
session: each such event becomes a row of its own with no ``visit_id`` and is
quarantined (counted, not dropped). Row numbers are the file row (NDJSON line)
of each session's first event.

Sessions split over two daily files
-----------------------------------
The export writes one table per day, so a session running over midnight has
events in two files. When a later file (``merge_split_sessions``, on by
default) holds a session already in ``visits`` from another file, the two
parts are merged: ``visit_start`` = the earlier start, ``duration_s`` = the
later end - that start, ``pageviews`` summed, ``goal_pricing`` either part's,
landing page / UTM / channel / device of the earlier part. The old row is
replaced by the merged one in this load (and put back if the load fails);
the notes count the merged sessions. Only a part that lies wholly after the
stored session's end (or wholly before its start) is a continuation: the
*same* file again (found in ``load_log``), a re-pulled day (a connector's
lookback) or any part overlapping the stored session is a duplicate key,
quarantined as before, so page views are never counted twice.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from analytics import warehouse
from analytics.sources.channels import ChannelRules, load_channel_rules
from analytics.sources.metrica import url_path
from analytics.sources.reading import ACCOUNT_TIMEZONE, SourceResult, decode_export, map_text
from analytics.warehouse import InputError

EVENT_STRUCTURE = {
    "event_name": "VARCHAR",
    "event_timestamp": "BIGINT",
    "user_pseudo_id": "VARCHAR",
    "event_params": [
        {
            "key": "VARCHAR",
            "value": {
                "string_value": "VARCHAR",
                "int_value": "BIGINT",
                "float_value": "DOUBLE",
                "double_value": "DOUBLE",
            },
        }
    ],
    "device": {"category": "VARCHAR"},
    "traffic_source": {"source": "VARCHAR", "medium": "VARCHAR", "name": "VARCHAR"},
    "collected_traffic_source": {
        "manual_source": "VARCHAR",
        "manual_medium": "VARCHAR",
        "manual_campaign_name": "VARCHAR",
        "manual_content": "VARCHAR",
        "manual_term": "VARCHAR",
        "gclid": "VARCHAR",
    },
}
"""The part of the BigQuery export event schema read (DuckDB ``from_json`` structure)."""

DEVICES = {"desktop": "desktop", "mobile": "mobile", "tablet": "tablet", "smart tv": None}
"""GA4 device category -> canonical device (smart TV loads with an empty device)."""

_UTM = ("source", "medium", "campaign", "content", "term")
_MANUAL = {
    "source": "manual_source",
    "medium": "manual_medium",
    "campaign": "manual_campaign_name",
    "content": "manual_content",
    "term": "manual_term",
}


def _param(key: str, kind: str = "string_value") -> str:
    return f"list_filter(e.event_params, lambda p: p.key = '{key}')[1].value.{kind}"


def _param_text(key: str) -> str:
    return (
        f"coalesce({_param(key)}, CAST({_param(key, 'int_value')} AS VARCHAR), "
        f"CAST({_param(key, 'double_value')} AS VARCHAR))"
    )


def _events_relation(con, path: Path, encoding: str) -> str:
    """Register the events as JSON text with their file row; return a relation name."""
    name = f"_ga4_events_{uuid.uuid4().hex[:12]}"
    if path.suffix.lower() == ".parquet":
        if not path.is_file():
            raise InputError(f"{path}: file not found")
        if path.stat().st_size == 0:
            raise InputError(f"{path}: empty file (0 bytes); expected GA4 events")
        try:
            con.execute(
                f"CREATE TEMP TABLE {name} AS SELECT file_row_number + 1 AS _line, "
                f"CAST(to_json(t) AS VARCHAR) AS j "
                f"FROM read_parquet('{_sql_path(path)}', file_row_number = true) t"
            )
        except duckdb.Error as err:
            raise InputError(
                f"{path}: not a readable Parquet file: {str(err).splitlines()[0]}"
            ) from None
        return name
    text = decode_export(path, encoding)
    lines = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    frame = pd.DataFrame(
        {"_line": [n for n, _ in lines], "j": [line for _, line in lines]}, dtype=object
    )
    frame["_line"] = frame["_line"].astype("int64")
    bad = [n for n, line in lines if not _is_json_object(line)]
    if bad:
        last = lines[-1][0]
        note = (
            "; it is the last line: the file looks truncated"
            if bad[0] == last and not text.endswith("\n")
            else ""
        )
        raise InputError(
            f"{path}: malformed GA4 NDJSON export at line {bad[0]}: not a JSON object{note}; "
            f"{len(bad)} bad line(s) in all; fix or re-export the file "
            f"(nothing was loaded from it)"
        )
    con.register(name, frame)
    return name


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def sessions_frame(con, relation: str, *, pricing_page: str) -> pd.DataFrame:
    """One row per session (or per event that has no session), values still raw.

    Columns: ``_row``, ``visit_id``, ``visitor_id``, ``start_us``, ``end_us``,
    ``pageviews``, ``first_page``, ``pricing``, ``device``, UTM candidates
    (``m_*`` manual, ``p_*`` parameters, ``t_*`` first-touch), ``gclid``,
    ``session_number``.
    """
    utm_first = ",\n".join(
        f"arg_min(m_{u}, _ord) FILTER (m_source IS NOT NULL) AS m_{u}, "
        f"arg_min(p_{u}, _ord) FILTER (p_source IS NOT NULL) AS p_{u}"
        for u in _UTM
    )
    manual = ", ".join(f"e.collected_traffic_source.{_MANUAL[u]} AS m_{u}" for u in _UTM)
    params = ", ".join(f"{_param(u)} AS p_{u}" for u in _UTM)
    structure = json.dumps(EVENT_STRUCTURE).replace("'", "''")
    sql = f"""
        WITH events AS (
            SELECT _line, e.event_name AS name, e.event_timestamp AS ts,
                   nullif(trim(e.user_pseudo_id), '') AS uid,
                   nullif(trim({_param_text("ga_session_id")}), '') AS sid,
                   {_param("ga_session_number", "int_value")} AS session_number,
                   {_param("page_location")} AS page,
                   e.device.category AS device,
                   {manual}, {params},
                   e.collected_traffic_source.gclid AS gclid,
                   e.traffic_source.source AS t_source, e.traffic_source.medium AS t_medium,
                   e.traffic_source.name AS t_campaign
            FROM (SELECT _line, from_json(j, '{structure}') AS e FROM {relation})
        ),
        keyed AS (
            SELECT *, row_number() OVER (ORDER BY ts NULLS LAST, _line) AS _ord,
                   CASE WHEN uid IS NOT NULL AND sid IS NOT NULL THEN uid || '.' || sid
                   END AS visit_id,
                   coalesce(uid || '.' || sid, '#' || _line) AS _key
            FROM events
        )
        SELECT min(_line) AS _row, any_value(visit_id) AS visit_id,
               arg_min(uid, _ord) AS visitor_id,
               min(ts) AS start_us, max(ts) AS end_us,
               count(*) FILTER (name = 'page_view') AS pageviews,
               arg_min(page, _ord) FILTER (page IS NOT NULL) AS first_page,
               coalesce(bool_or(regexp_matches(
                   regexp_replace(page, '^[a-z]+://[^/]*', ''), $pricing)), false) AS pricing,
               arg_min(device, _ord) FILTER (device IS NOT NULL) AS device,
               {utm_first},
               arg_min(gclid, _ord) FILTER (gclid IS NOT NULL) AS gclid,
               min(session_number) AS session_number,
               arg_min(t_source, _ord) AS t_source, arg_min(t_medium, _ord) AS t_medium,
               arg_min(t_campaign, _ord) AS t_campaign
        FROM keyed GROUP BY _key ORDER BY _row
    """
    return con.execute(sql, {"pricing": pricing_page}).df()


def translate(
    sessions: pd.DataFrame, *, rules: ChannelRules, timezone: str = ACCOUNT_TIMEZONE
) -> pd.DataFrame:
    """Canonical ``visits`` columns (text) from :func:`sessions_frame`."""
    start = pd.to_datetime(sessions["start_us"], unit="us", utc=True)
    local = start.dt.tz_convert(timezone).dt.tz_localize(None).dt.floor("s")
    duration = ((sessions["end_us"] - sessions["start_us"]) // 1_000_000).astype("Int64")
    manual = sessions["m_source"].notna()
    utm = {u: sessions[f"m_{u}"].where(manual, sessions[f"p_{u}"]).astype(object) for u in _UTM}
    source = utm["source"].copy()
    medium = utm["medium"].copy()
    campaign = utm["campaign"].copy()
    gclid = source.isna() & sessions["gclid"].notna()
    source[gclid], medium[gclid] = "google", "cpc"
    first_session = sessions["session_number"].eq(1).fillna(False).astype(bool)
    first = source.isna() & first_session & sessions["t_source"].notna()
    source[first] = sessions.loc[first, "t_source"]
    medium[first] = sessions.loc[first, "t_medium"]
    campaign[first] = sessions.loc[first, "t_campaign"]
    source = source.where(source.notna(), "(direct)")
    medium = medium.where(medium.notna(), "(none)")
    as_text = lambda s: s.astype(object).where(s.notna(), None)  # noqa: E731
    return pd.DataFrame(
        {
            "visit_id": as_text(sessions["visit_id"]),
            "visitor_id": as_text(sessions["visitor_id"]),
            "visit_start": as_text(local.dt.strftime("%Y-%m-%d %H:%M:%S")),
            "channel": rules.assign(source, medium, campaign),
            "utm_source": as_text(utm["source"]),
            "utm_medium": as_text(utm["medium"]),
            "utm_campaign": as_text(utm["campaign"]),
            "utm_content": as_text(utm["content"]),
            "utm_term": as_text(utm["term"]),
            "landing_page": map_text(as_text(sessions["first_page"]), url_path),
            "pageviews": sessions["pageviews"].astype(str),
            "duration_s": as_text(duration.astype(str).where(duration.notna(), None)),
            "goal_pricing": sessions["pricing"].map({True: "true", False: "false"}),
            "device": map_text(
                as_text(sessions["device"]),
                lambda d: DEVICES.get(d.strip().lower(), d.strip().lower()),
            ),
        }
    )


def load_sessions(
    con,
    path: str | Path,
    *,
    salt: str,
    pricing_page: str = r"^/pricing",
    timezone: str = ACCOUNT_TIMEZONE,
    channel_rules: str | Path | ChannelRules | None = None,
    encoding: str = "utf-8",
    columns: dict[str, str] | None = None,
    placeholders: tuple[str, ...] | None = None,
    merge_split_sessions: bool = True,
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Build sessions from a GA4 BigQuery events export and load them into ``visits``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection (also used to read and group the events).
    path : str or Path
        ``.parquet`` (e.g. ``bq extract --destination_format PARQUET``) or
        newline-delimited JSON (``NEWLINE_DELIMITED_JSON``, any other suffix).
    salt : str
        PII salt (sessions carry no PII; kept for a uniform signature).
    pricing_page : str
        Regular expression searched in each ``page_location`` path; a match
        sets ``goal_pricing``.
    timezone : str
        Account time zone for ``visit_start`` (GA4 timestamps are UTC).
    channel_rules : path or ChannelRules, optional
        Channel grouping rules; ``params/channels.yaml`` by default.
    encoding : str
        Encoding of an NDJSON file.
    load_id : str, optional
        Id of this load in ``quarantine`` and ``load_log``.
    now : datetime, optional
        Reference time of the future-date check.

    Returns
    -------
    LoadResult
        ``rows_in`` counts sessions plus events without a session.

    Raises
    ------
    InputError
        Missing, empty or unreadable file; an NDJSON line that is not a JSON
        object (e.g. a truncated last line), named by its line number.
    """
    source = Path(path).resolve()
    if columns:
        raise InputError(
            f"{source}: a GA4 BigQuery export has a fixed nested schema; column mappings "
            f"(--map / params/sources.yaml ga4: columns:) do not apply to it"
        )
    relation = _events_relation(con, source, encoding)
    try:
        sessions = sessions_frame(con, relation, pricing_page=pricing_page)
    finally:
        if source.suffix.lower() == ".parquet":
            con.execute(f"DROP TABLE IF EXISTS {relation}")
        else:
            con.unregister(relation)
    visits = translate(sessions, rules=load_channel_rules(channel_rules), timezone=timezone)
    old = _continued_sessions(con, visits, source) if merge_split_sessions else pd.DataFrame()
    notes: tuple[str, ...] = ()
    if len(old):
        visits = merge_parts(visits, old)
        notes = (
            f"{len(old)} session(s) continued from an earlier file merged (start = the earlier "
            f"start, end = the later end, page views summed)",
        )
    if len(old) and warehouse.is_dry_run():
        # --check writes nothing: the earlier parts stay, so the merged sessions are
        # counted as quarantined duplicates here while a real load would replace them
        old = pd.DataFrame()
    if len(old):
        con.register("_ga4_old_parts", old)
        try:
            con.execute(
                "DELETE FROM main.visits WHERE visit_id IN (SELECT visit_id FROM _ga4_old_parts)"
            ).fetchall()
        finally:
            con.unregister("_ga4_old_parts")
    try:
        result = warehouse.load_frame(
            con,
            "visits",
            visits,
            source_file=source,
            salt=salt,
            row_numbers=sessions["_row"].to_numpy(),
            load_id=load_id,
            now=now,
            # A stored session may be a merge of two daily parts: never overwrite it.
            on_existing="quarantine",
        )
    except BaseException:
        if len(old):  # put the earlier parts back
            con.register("_ga4_old_parts", old)
            try:
                con.execute(
                    "INSERT INTO main.visits BY NAME SELECT * FROM _ga4_old_parts"
                ).fetchall()
            finally:
                con.unregister("_ga4_old_parts")
        raise
    return SourceResult(
        **{f.name: getattr(result, f.name) for f in dataclasses.fields(result)}, notes=notes
    )


def _continued_sessions(con, visits: pd.DataFrame, source: Path) -> pd.DataFrame:
    """Rows of ``visits`` (the table) that the new sessions continue (see the module notes)."""
    loaded_before = con.execute(
        "SELECT count(*) FROM main.load_log WHERE source_file = ? AND target_table = 'visits'",
        [str(source)],
    ).fetchall()[0][0]
    if loaded_before or visits["visit_id"].dropna().empty:
        return pd.DataFrame()
    ids = visits[["visit_id", "visit_start", "duration_s"]].dropna()
    con.register("_ga4_new_ids", ids)
    try:
        return con.execute(
            "SELECT v.* FROM main.visits v JOIN _ga4_new_ids n ON v.visit_id = n.visit_id "
            "WHERE CAST(n.visit_start AS TIMESTAMP) > v.visit_start + to_seconds(v.duration_s) "
            "OR CAST(n.visit_start AS TIMESTAMP) + to_seconds(CAST(n.duration_s AS BIGINT)) "
            "< v.visit_start"
        ).df()
    finally:
        con.unregister("_ga4_new_ids")


def merge_parts(visits: pd.DataFrame, old: pd.DataFrame) -> pd.DataFrame:
    """``visits`` (text) with each session of ``old`` (typed rows) merged into its new part.

    ``start = min(starts)``, ``end = max(start_i + duration_i)``,
    ``duration_s = end - start`` (s), ``pageviews = sum``, ``goal_pricing = any``;
    the other columns from the part that started first.
    """
    out = visits.copy()
    position = {v: i for i, v in enumerate(out["visit_id"]) if isinstance(v, str)}
    for part in old.to_dict("records"):
        i = position[part["visit_id"]]
        new_start = pd.Timestamp(out.at[i, "visit_start"])
        new_end = new_start + pd.Timedelta(seconds=int(out.at[i, "duration_s"] or 0))
        old_start = pd.Timestamp(part["visit_start"])
        old_end = old_start + pd.Timedelta(seconds=int(part["duration_s"] or 0))
        start, end = min(new_start, old_start), max(new_end, old_end)
        if old_start < new_start:
            for column in ("visitor_id", "channel", "landing_page", "device") + tuple(
                f"utm_{u}" for u in _UTM
            ):
                value = part[column]
                out.at[i, column] = None if pd.isna(value) else str(value)
        out.at[i, "visit_start"] = start.strftime("%Y-%m-%d %H:%M:%S")
        out.at[i, "duration_s"] = str(int((end - start).total_seconds()))
        out.at[i, "pageviews"] = str(int(out.at[i, "pageviews"]) + int(part["pageviews"]))
        pricing = out.at[i, "goal_pricing"] == "true" or bool(part["goal_pricing"])
        out.at[i, "goal_pricing"] = "true" if pricing else "false"
    return out
