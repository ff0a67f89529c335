"""Write scores back to amoCRM, so managers see them on the lead card.

amoCRM API v4: ``PATCH {base_url}/api/v4/leads`` with a JSON array of leads
(amoCRM calls deals "leads"), each ``{"id": <lead id>, "custom_fields_values":
[{"field_id": <field id>, "values": [{"value": <value>}]}]}``, authorised by
``Authorization: Bearer <long-lived token>``. The reply lists the updated leads
under ``_embedded.leads``. Leads are sent in batches of ``batch_size`` (50;
amoCRM accepts up to 250 per request); a ``429 Too Many Requests`` reply is
retried after a pause (amoCRM allows a few requests per second).

The token is read from the environment (``AMOCRM_TOKEN``) or passed in; it
is never logged or written into an error message.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

import pandas as pd

TOKEN_VARIABLE = "AMOCRM_TOKEN"
BASE_URL_VARIABLE = "AMOCRM_BASE_URL"
MAX_BATCH = 250


class WritebackError(RuntimeError):
    """amoCRM refused a write-back request (the message names the status, never the token)."""


def lead_payload(
    amocrm_ids, scores, *, score_field_id: int, bands=None, band_field_id: int | None = None
) -> list[dict]:
    """The PATCH body: one lead object per id with the score (and band) custom fields.

    Parameters
    ----------
    amocrm_ids : sequence of int
        amoCRM lead (deal) ids.
    scores : sequence of int
        Scores 0-100.
    score_field_id : int
        Id of the numeric custom field that holds the score.
    bands : sequence of str, optional
        Bands A-D, written to ``band_field_id`` (a text field) when both are given.
    """
    out = []
    band_values = list(bands) if bands is not None else [None] * len(list(scores))
    for lead, score, band in zip(amocrm_ids, scores, band_values, strict=True):
        fields = [{"field_id": int(score_field_id), "values": [{"value": int(score)}]}]
        if band_field_id is not None and band is not None:
            fields.append({"field_id": int(band_field_id), "values": [{"value": str(band)}]})
        out.append({"id": int(lead), "custom_fields_values": fields})
    return out


def push_scores_to_amocrm(
    call_list: pd.DataFrame,
    *,
    score_field_id: int,
    band_field_id: int | None = None,
    id_column: str = "amocrm_id",
    base_url: str | None = None,
    token: str | None = None,
    batch_size: int = 50,
    retries: int = 3,
    pause_s: float = 1.0,
    timeout_s: float = 30.0,
) -> int:
    """Update the score (and band) custom fields of amoCRM leads; returns leads updated.

    Parameters
    ----------
    call_list : pandas.DataFrame
        Rows with ``id_column`` (amoCRM lead id; rows without one are skipped),
        ``score`` (0-100) and ``band``, e.g. :func:`analytics.scoring.call_list`
        joined with the CRM ids.
    score_field_id, band_field_id : int
        Custom field ids in the amoCRM account.
    base_url : str, optional
        ``https://<account>.amocrm.ru``; ``AMOCRM_BASE_URL`` by default.
    token : str, optional
        Long-lived token; ``AMOCRM_TOKEN`` by default.
    batch_size : int
        Leads per request, 1-250.
    retries : int
        Retries of a batch answered ``429``.

    Raises
    ------
    ValueError
        No base URL or token, a missing column, or a batch size out of range.
    WritebackError
        amoCRM answered with an error status.
    """
    base_url = base_url or os.environ.get(BASE_URL_VARIABLE)
    token = token or os.environ.get(TOKEN_VARIABLE)
    if not base_url:
        raise ValueError(f"no amoCRM address: pass base_url or set {BASE_URL_VARIABLE}")
    if not token:
        raise ValueError(f"no amoCRM token: set {TOKEN_VARIABLE} (never put it in a file in git)")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be 1..{MAX_BATCH}, got {batch_size}")
    missing = [c for c in (id_column, "score", "band") if c not in call_list.columns]
    if missing:
        raise ValueError(f"the call list lacks columns {missing}")
    rows = call_list[call_list[id_column].notna()]
    url = base_url.rstrip("/") + "/api/v4/leads"
    updated = 0
    for start in range(0, len(rows), batch_size):
        chunk = rows.iloc[start : start + batch_size]
        body = lead_payload(
            chunk[id_column],
            chunk["score"],
            score_field_id=score_field_id,
            bands=chunk["band"],
            band_field_id=band_field_id,
        )
        reply = _patch(url, body, token, retries=retries, pause_s=pause_s, timeout_s=timeout_s)
        updated += len(reply.get("_embedded", {}).get("leads", []))
    return updated


def _patch(url: str, body: list, token: str, *, retries: int, pause_s: float, timeout_s: float):
    data = json.dumps(body).encode("utf-8")
    for attempt in range(retries + 1):
        request = urllib.request.Request(
            url,
            data=data,
            method="PATCH",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                text = response.read().decode("utf-8")
                return json.loads(text) if text else {}
        except urllib.error.HTTPError as error:
            if error.code == 429 and attempt < retries:
                time.sleep(pause_s * (attempt + 1))
                continue
            detail = " ".join(error.read().decode("utf-8", "replace").split())[:300]
            hint = " (check the token and its rights)" if error.code in (401, 403) else ""
            raise WritebackError(
                f"amoCRM answered {error.code} to PATCH {url}{hint}: {detail}"
            ) from None
    raise WritebackError(f"amoCRM kept answering 429 to PATCH {url}")  # pragma: no cover
