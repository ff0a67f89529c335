"""Scores written back to amoCRM, against a local server speaking its v4 PATCH /api/v4/leads."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from werkzeug import Response

from analytics.scoring.crm_writeback import WritebackError, push_scores_to_amocrm

TOKEN = "test-token-not-a-secret"


def _reply(request):
    """What amoCRM answers: the updated leads under _embedded.leads."""
    leads = json.loads(request.data)
    body = {
        "_links": {"self": {"href": "/api/v4/leads"}},
        "_embedded": {
            "leads": [
                {"id": lead["id"], "updated_at": 1767225600, "request_id": str(k)}
                for k, lead in enumerate(leads)
            ]
        },
    }
    return Response(json.dumps(body), status=200, content_type="application/hal+json")


def test_scores_and_bands_are_patched_in_batches(httpserver):
    httpserver.expect_request(
        "/api/v4/leads",
        method="PATCH",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).respond_with_handler(_reply)
    calls = pd.DataFrame(
        {
            "amocrm_id": [101, 102, None, 104, 105],
            "score": [87, 42, 30, 12, 3],
            "band": ["A", "B", "C", "D", "D"],
        }
    )
    n = push_scores_to_amocrm(
        calls,
        score_field_id=555,
        band_field_id=556,
        base_url=httpserver.url_for("/"),
        token=TOKEN,
        batch_size=2,
    )
    assert n == 4
    bodies = [json.loads(request.data) for request, _ in httpserver.log]
    assert [len(b) for b in bodies] == [2, 2]
    assert bodies[0][0] == {
        "id": 101,
        "custom_fields_values": [
            {"field_id": 555, "values": [{"value": 87}]},
            {"field_id": 556, "values": [{"value": "A"}]},
        ],
    }
    assert [lead["id"] for body in bodies for lead in body] == [101, 102, 104, 105]


def test_a_refused_token_is_one_clear_error_without_the_token(httpserver):
    httpserver.expect_request("/api/v4/leads", method="PATCH").respond_with_json(
        {"title": "Unauthorized", "status": 401}, status=401
    )
    calls = pd.DataFrame({"amocrm_id": [1], "score": [50], "band": ["B"]})
    with pytest.raises(WritebackError, match=r"amoCRM answered 401 .*\(check the token") as info:
        push_scores_to_amocrm(
            calls, score_field_id=1, base_url=httpserver.url_for("/"), token=TOKEN
        )
    assert TOKEN not in str(info.value)


def test_too_many_requests_is_retried(httpserver):
    httpserver.expect_ordered_request("/api/v4/leads", method="PATCH").respond_with_data(
        "", status=429
    )
    httpserver.expect_ordered_request("/api/v4/leads", method="PATCH").respond_with_handler(_reply)
    calls = pd.DataFrame({"amocrm_id": [7], "score": [50], "band": ["B"]})
    n = push_scores_to_amocrm(
        calls, score_field_id=1, base_url=httpserver.url_for("/"), token=TOKEN, pause_s=0.01
    )
    assert n == 1 and len(httpserver.log) == 2


def test_missing_token_says_which_variable(monkeypatch):
    monkeypatch.delenv("AMOCRM_TOKEN", raising=False)
    calls = pd.DataFrame({"amocrm_id": [7], "score": [50], "band": ["B"]})
    with pytest.raises(ValueError, match="set AMOCRM_TOKEN"):
        push_scores_to_amocrm(calls, score_field_id=1, base_url="http://localhost")
