"""CoMagic Data API v2.0 (JSON-RPC 2.0) -> leads (calls landed as CSV, loaded by ``calls``).

Protocol (CoMagic / UIS / CallGear Data API, method ``get.calls_report``):
``POST https://dataapi.comagic.ru/v2.0`` with a JSON-RPC 2.0 body
``{"jsonrpc": "2.0", "id": n, "method": "get.calls_report", "params":
{"access_token", "date_from", "date_till", "fields", "limit", "offset"}}``;
dates ``YYYY-MM-DD hh:mm:ss`` in the account's time zone. The answer is
``{"result": {"data": [...], "metadata": {"total_items": N}}}``, or
``{"error": {"code", "message", "data": {"mnemonic"}}}`` (HTTP 200 either
way; an error is a :class:`PullError` with the mnemonic and message).
Pages: ``offset`` advances by ``limit`` (at most 10 000) until
``total_items`` rows are read.

The access token (a permanent API key of the account) travels in the body,
as the protocol wants, never in the URL or a log line.

Landed file: ``comagic_calls_<first>_<last>.csv`` with the API's own field
names, which the ``calls`` adapter reads (``id``, ``start_time``,
``communication_type``, ``contact_phone_number``, ``ym_client_id``,
``utm_*``, ``talk_duration``, ``is_lost``). CoMagic's own ``visitor_id`` is
not requested: it is not the Metrica ClientID the warehouse links on.

Settings (``connectors.comagic``): ``initial_days``, ``lookback_days``,
``page_limit`` (default 10 000), ``user_id`` (agent accounts).
Secret: ``token`` (``ANALYTICS_COMAGIC_TOKEN``).
"""

from __future__ import annotations

import csv
import itertools

from analytics.sources.api import credentials
from analytics.sources.api.pulling import Batch, LandedFile, PullContext
from analytics.sources.api.transport import PullError

DEFAULT_BASE_URL = "https://dataapi.comagic.ru"
ENDPOINT = "/v2.0"

FIELDS = ("id", "start_time", "contact_phone_number", "ym_client_id", "utm_source", "utm_medium",
          "utm_campaign", "utm_content", "utm_term", "talk_duration", "is_lost")  # fmt: skip
"""``get.calls_report`` fields requested."""

HEADER = [*FIELDS[:2], "communication_type", *FIELDS[2:]]


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def pull(context: PullContext) -> Batch:
    """Fetch the window's calls page by page; land one CSV."""
    settings = context.settings
    window = context.window()
    if window is None:
        return Batch(files=[], cursor=None)
    token = credentials.secret("comagic", "token")
    limit = min(int(settings.get("page_limit", 10000)), 10000)
    base = {
        "access_token": token,
        "date_from": f"{window[0]} 00:00:00",
        "date_till": f"{window[1]} 23:59:59",
        "fields": list(FIELDS),
        "limit": limit,
    }
    if settings.get("user_id"):
        base["user_id"] = settings["user_id"]
    rows = []
    with context.client() as api:
        for n in itertools.count(1):
            body = {
                "jsonrpc": "2.0",
                "id": n,
                "method": "get.calls_report",
                "params": {**base, "offset": len(rows)},
            }
            answer = api.request("POST", ENDPOINT, json=body).json()
            if "error" in answer:
                error = answer["error"]
                mnemonic = (error.get("data") or {}).get("mnemonic", "")
                raise PullError(
                    f"comagic: get.calls_report error {error.get('code')} {mnemonic}: "
                    f"{error.get('message', '')}".strip()
                )
            result = answer.get("result") or {}
            data = result.get("data") or []
            rows += data
            total = int((result.get("metadata") or {}).get("total_items", len(rows)))
            if not data or len(rows) >= total:
                break
    if not rows:
        return Batch(files=[], cursor=window[1].isoformat())
    path = context.landing / f"comagic_calls_{window[0]}_{window[1]}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        for row in rows:
            values = {**row, "communication_type": "call"}
            writer.writerow([_text(values.get(f)) for f in HEADER])
    return Batch(files=[LandedFile("calls", path)], cursor=window[1].isoformat())
