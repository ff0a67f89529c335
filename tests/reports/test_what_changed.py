"""The anomaly the demo generator injects is named by the report, against its truth.

The generator doubles one campaign's cost in the last complete week and records it in
``truth.anomalies`` (campaign, week): the independent reference. The tiny weekly run's
period is that week (``last-week``), so its marketing page and the marketing and CEO
e-mails must name the campaign in an anomaly sentence; the week before (a normal week
for that campaign) must not.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pandas as pd
import pytest

from analytics.reports import message, sending, summary


@pytest.fixture(scope="module")
def injected(tiny_demo):
    anomalies = tiny_demo.truth["anomalies"]
    assert len(anomalies) == 1
    return anomalies.iloc[0]


def anomaly_sentences(text: str, campaign: str) -> list[str]:
    return re.findall(rf"Необычно в кампании «{re.escape(campaign)}»[^<\n]*", text)


def test_the_week_of_the_injected_anomaly_names_its_campaign(injected, tiny_reports, tmp_path):
    folder = Path(tiny_reports.index_path).parent
    assert folder.name == injected["week"]  # the run's last week is the injected one
    page = (folder / "marketing" / "09_weekly_summary.html").read_text(encoding="utf-8")
    found = anomaly_sentences(page, injected["campaign"])
    # the week as dates, not an ISO code: W52 of the tiny demo is "22–28 дек. 2025 г."
    start, end = pd.Timestamp(injected["week_start"]), pd.Timestamp(injected["week_end"])
    assert len(found) == 1 and f"за неделю {start.day}\u2013{end.day} " in found[0], found
    assert "расходы на рекламу" in found[0]  # the metric the generator doubled: cost

    result = sending.send_reports(
        folder, roles=["ceo", "marketing"], dry_run=True, out_dir=tmp_path
    )
    assert result.sent == ["ceo", "marketing"]
    for path in result.eml_paths:
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        for part in ("html", "plain"):
            body = msg.get_body((part,)).get_content()
            assert anomaly_sentences(body, injected["campaign"]), (path.name, part)


def test_a_normal_week_does_not_name_the_campaign(injected, tiny_warehouse):
    """The week before the injected one: the campaign's cost is its usual self."""
    from analytics.metrics.period import iso_week
    from analytics.metrics.snapshot import build_snapshot

    monday = injected["week_start"] - timedelta(weeks=1)
    year, week, _ = monday.isocalendar()
    snapshot, _ = build_snapshot(tiny_warehouse, iso_week(year, week))
    text = "\n".join(summary.what_changed_sentences(snapshot, "ru"))
    assert anomaly_sentences(text, injected["campaign"]) == []
    html, lines = message._changes("marketing", snapshot, "ru")
    assert anomaly_sentences(html + "\n".join(lines), injected["campaign"]) == []
    # the campaign is still known to the snapshot: it is not named because it is normal
    assert injected["campaign"] in {row["campaign"] for row in snapshot.data["campaigns"]}
