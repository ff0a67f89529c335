"""Status / outcome columns of lead exports (kind ``leads``) -> ``deals`` and ``deal_stages``.

Fixtures are written as the vendors export them: Pipedrive deals export (UTF-8,
``,``, ``Deal - `` headers, ISO times), Bitrix24 lists (cp1251, ``;``, Russian
headers, ``dd.mm.yyyy hh:mm:ss``, amounts with space thousands and a decimal
comma), HubSpot deals / contacts (UTF-8, ``,``). Every expected value is written
by hand from the fixture text.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from source_checks import NOW, SALT, assert_reconciled

from analytics import cli
from analytics.sources import load_source
from analytics.sources.crm_outcomes import build_vocabulary, classify, money_text
from analytics.warehouse import InputError

PIPEDRIVE_HEADER = (
    "Deal - ID,Deal - Title,Deal - Owner,Deal - Value,Deal - Currency,Deal - Status,"
    "Deal - Stage,Deal - Deal created,Deal - Last stage change,Deal - Won time,"
    "Deal - Lost time,Deal - Lost reason,Deal - Update time,Person - Email\n"
)
PIPEDRIVE = PIPEDRIVE_HEADER + (
    "1,Acme deal,Anna,120000,RUB,won,Negotiations Started,2024-05-02 10:00:00,"
    "2024-05-08 12:00:00,2024-05-10 15:00:00,,,2024-05-10 15:00:00,a@acme.io\n"
    "2,Beta deal,Anna,80000,RUB,lost,Proposal Made,2024-05-03 11:00:00,"
    "2024-05-06 09:00:00,,2024-05-12 10:00:00,Price,2024-05-12 10:00:00,b@beta.io\n"
    '3,Gamma deal,Boris,"45,500.50",RUB,open,Proposal Made,2024-05-06 09:30:00,'
    "2024-05-20 09:00:00,,,,2024-05-21 08:00:00,c@gamma.io\n"
    "4,Delta deal,Boris,1000,USD,won,Demo Scheduled,2024-05-07 14:00:00,"
    "2024-05-09 10:00:00,2024-05-15 16:30:00,,,2024-05-15 16:30:00,\n"
    "5,Eps deal,Boris,,RUB,open,Site visit,2024-05-20 08:00:00,"
    "2024-05-21 10:00:00,,,,2024-05-21 10:00:00,\n"
)
RATES = {"USD": 90.0}


def _deals(con) -> list[tuple]:
    return con.execute(
        "SELECT deal_id, lead_id, status, stage, CAST(closed_at AS VARCHAR), amount, "
        "loss_reason, manager FROM deals ORDER BY deal_id"
    ).fetchall()


def _stages(con) -> list[tuple]:
    return con.execute(
        "SELECT deal_id, stage, CAST(entered_at AS VARCHAR) FROM deal_stages "
        "ORDER BY deal_id, entered_at"
    ).fetchall()


def _logged(con, table: str) -> list[tuple]:
    return con.execute(
        "SELECT rows_in, rows_inserted, rows_updated, rows_unchanged, rows_quarantined "
        "FROM load_log WHERE target_table = ? ORDER BY loaded_at",
        [table],
    ).fetchall()


def _load_pipedrive(con, tmp_path, text=PIPEDRIVE, now=NOW, **options):
    path = tmp_path / "deals-12345-67.csv"
    path.write_text(text, encoding="utf-8")
    return load_source(con, "leads", path, salt=SALT, now=now, rates=RATES, **options)


def test_money_text_reads_locale_numbers_and_currency_text():
    """Hand computation (USD 90, EUR 100 RUB per unit):

    ``1 234,50 ₽`` -> 1234.50; ``$1,234.50`` -> 1234.50 × 90 = 111105.00;
    ``RUB 1234`` -> 1234.00; ``1234 руб.`` -> 1234.00; ``1.234,50 EUR`` ->
    1234.50 × 100 = 123450.00; ``12 500`` with the column's currency
    ``Российский рубль`` -> 12500.00; ``2 000`` with column ``USD`` -> 180000.00.
    ``€5`` -> 500.00. ``12O00`` and ``80 OOO`` (letters O; OOO is no ISO currency)
    are not numbers; ``5 CHF`` has no rate.
    """
    values = pd.Series(
        [
            "1 234,50 ₽",
            "$1,234.50",
            "RUB 1234",
            "1234 руб.",
            "1.234,50 EUR",
            "12\u00a0500",
            "2 000",
            None,
            "12O00",
            "€5",
            "5 CHF",
            "80 OOO",
        ]
    )
    column = pd.Series([None] * 5 + ["Российский рубль", "USD"] + [None] * 5)
    amounts, failures = money_text(values, column, rates={"USD": 90, "EUR": 100})
    assert amounts.tolist() == [
        "1234.50",
        "111105.00",
        "1234.00",
        "1234.00",
        "123450.00",
        "12500.00",
        "180000.00",
        None,
        None,
        "500.00",
        None,
        None,
    ]
    assert failures[8] == "amount: not a money amount: '12O00'"
    assert failures[10] == (
        "amount: '5 CHF' is in CHF, warehouse money is RUB: "
        "pass --option rates={CHF: <RUB per unit>}"
    )
    assert failures[11] == "amount: not a money amount: '80 OOO'"
    assert set(failures) == {8, 10, 11}


def test_vocabulary_classifies_vendor_values_and_reports_unknown_ones():
    """Won beats lost beats open; an open deal's stage comes from the stage column, then
    the status column; unknown values are counted, not guessed."""
    vocabulary = build_vocabulary()
    status = pd.Series(["open", "won", "lost", "Connected", "Сконвертирован", None, "weird"])
    stage = pd.Series(
        [
            "Proposal Made",
            "Negotiations Started",
            "closedlost",
            "opportunity",
            None,
            "Сделка успешна",
            None,
        ]
    )
    out = classify(status, stage, vocabulary)
    assert out.status.tolist() == ["open", "won", "lost", "open", "open", "won", "open"]
    assert out.stage.tolist() == ["proposal", "won", "lost", "sql", "sql", "won", "new"]
    assert out.reached.tolist() == ["proposal", "proposal", None, "sql", "sql", None, None]
    assert dict(out.unknown) == {"weird": 1}


def test_pipedrive_export_maps_status_value_times_and_lost_reason(con, tmp_path):
    """Deal 4 is 1000 USD × 90 = 90000.00 RUB; deal 3's ``"45,500.50"`` is 45500.50.
    Closed deals keep the pipeline stage they were in: deal 1 reached ``proposal``
    (Negotiations Started) at its last stage change, deal 2 (lost at Proposal Made)
    too; deal 5's stage «Site visit» is unknown: open at ``new``, reported."""
    result = _load_pipedrive(con, tmp_path)
    assert (result.rows_in, result.rows_loaded) == (5, 5)
    assert _deals(con) == [
        ("1", "1", "won", "won", "2024-05-10 15:00:00", 120000.0, None, "Anna"),
        ("2", "2", "lost", "lost", "2024-05-12 10:00:00", 80000.0, "Price", "Anna"),
        ("3", "3", "open", "proposal", None, 45500.5, None, "Boris"),
        ("4", "4", "won", "won", "2024-05-15 16:30:00", 90000.0, None, "Boris"),
        ("5", "5", "open", "new", None, None, None, "Boris"),
    ]
    assert _stages(con) == [
        ("1", "new", "2024-05-02 10:00:00"),
        ("1", "proposal", "2024-05-08 12:00:00"),
        ("1", "won", "2024-05-10 15:00:00"),
        ("2", "new", "2024-05-03 11:00:00"),
        ("2", "proposal", "2024-05-06 09:00:00"),
        ("2", "lost", "2024-05-12 10:00:00"),
        ("3", "new", "2024-05-06 09:30:00"),
        ("3", "proposal", "2024-05-20 09:00:00"),
        ("4", "new", "2024-05-07 14:00:00"),
        ("4", "demo", "2024-05-09 10:00:00"),
        ("4", "won", "2024-05-15 16:30:00"),
        ("5", "new", "2024-05-20 08:00:00"),
    ]
    assert _logged(con, "deals") == [(5, 5, 0, 0, 0)]
    assert _logged(con, "deal_stages") == [(12, 12, 0, 0, 0)]
    notes = " ".join(result.notes)
    assert "5 row(s) (2 won, 1 lost, 2 open)" in notes
    assert (
        "1 status/stage value(s) not in the vocabulary, counted as open: 'Site visit' (1)" in notes
    )
    warnings = con.execute("SELECT warnings FROM load_log WHERE target_table = 'deals'").fetchone()
    assert "'Site visit' (1)" in warnings[0]  # kept with the load, not only printed
    # outcome columns are deal columns, not lead fields; the title still is one
    fields = {r[0] for r in con.execute("SELECT DISTINCT field FROM lead_fields").fetchall()}
    assert fields == {"Deal - Title", "status", "stage"}


def test_the_same_export_twice_changes_nothing(con, tmp_path):
    """Second load: the 5 deals and 12 stages unchanged, nothing quarantined."""
    _load_pipedrive(con, tmp_path)
    _load_pipedrive(con, tmp_path)
    assert _logged(con, "deals") == [(5, 5, 0, 0, 0), (5, 0, 0, 5, 0)]
    assert _logged(con, "deal_stages") == [(12, 12, 0, 0, 0), (12, 0, 0, 12, 0)]
    assert con.execute("SELECT count(*) FROM history.deals").fetchone() == (5,)


def test_a_newer_export_updates_open_to_won(con, tmp_path):
    """Newer export: deal 3 won on 2024-05-28 at 50000 and deal 5 moved to Proposal Made,
    with a later update time: 2 deals updated, 3 unchanged; stages: deal 3 ``won`` and
    deal 5 ``proposal`` inserted, the 12 earlier ones unchanged (deal 3's proposal
    keeps 05-20)."""
    _load_pipedrive(con, tmp_path)
    newer = PIPEDRIVE.replace(
        '"45,500.50",RUB,open,Proposal Made,2024-05-06 09:30:00,2024-05-20 09:00:00,,,,'
        "2024-05-21 08:00:00",
        "50000,RUB,won,Proposal Made,2024-05-06 09:30:00,2024-05-20 09:00:00,"
        "2024-05-28 11:00:00,,,2024-05-28 11:00:00",
    ).replace(
        "RUB,open,Site visit,2024-05-20 08:00:00,2024-05-21 10:00:00,,,,2024-05-21 10:00:00",
        "RUB,open,Proposal Made,2024-05-20 08:00:00,2024-05-27 10:00:00,,,,2024-05-27 10:00:00",
    )
    assert newer.count("won") == 3
    _load_pipedrive(con, tmp_path, newer, now=datetime(2024, 6, 2))
    assert _logged(con, "deals")[-1] == (5, 0, 2, 3, 0)
    assert _logged(con, "deal_stages")[-1] == (14, 2, 0, 12, 0)
    assert con.execute(
        "SELECT status, stage, CAST(closed_at AS VARCHAR), amount FROM deals WHERE deal_id = '3'"
    ).fetchone() == ("won", "won", "2024-05-28 11:00:00", 50000.0)
    assert [s for s in _stages(con) if s[0] in ("3", "5")] == [
        ("3", "new", "2024-05-06 09:30:00"),
        ("3", "proposal", "2024-05-20 09:00:00"),
        ("3", "won", "2024-05-28 11:00:00"),
        ("5", "new", "2024-05-20 08:00:00"),
        ("5", "proposal", "2024-05-27 10:00:00"),
    ]
    # the open version of deal 3 is kept in history
    assert con.execute(
        "SELECT status, amount FROM history.deals WHERE deal_id = '3' AND valid_to IS NOT NULL"
    ).fetchall() == [("open", 45500.5)]


def test_bad_amount_and_date_quarantine_the_deal_naming_file_row_and_column(con, tmp_path):
    """Row 1's won time «2024-05-32» and row 2's value «80 OOO» (letters O) do not read:
    both deals are quarantined naming the export's column; their leads load.
    deals: 5 in = 3 loaded + 2 quarantined; leads: 5 loaded."""
    text = PIPEDRIVE.replace("2024-05-10 15:00:00,,,", "2024-05-32 15:00:00,,,").replace(
        ",80000,", ",80 OOO,"
    )
    result = _load_pipedrive(con, tmp_path, text)
    assert (result.table, result.rows_loaded) == ("leads", 5)
    assert_reconciled(con, result)
    assert _logged(con, "deals") == [(5, 3, 0, 0, 2)]
    rows = con.execute(
        "SELECT source_file, row_number, column_name, reason FROM quarantine "
        "WHERE target_table = 'deals' ORDER BY row_number"
    ).fetchall()
    assert [r[:3] for r in rows] == [
        (result.source_file, 1, "Deal - Won time"),
        (result.source_file, 2, "Deal - Value"),
    ]
    assert (
        rows[0][3] == "won_at: not a date or time: '2024-05-32 15:00:00' (column 'Deal - Won time')"
    )
    assert rows[1][3] == "amount: not a money amount: '80 OOO' (column 'Deal - Value')"
    assert [r[0] for r in _deals(con)] == ["3", "4", "5"]
    # a quarantined deal gets no stages
    assert {r[0] for r in _stages(con)} == {"3", "4", "5"}


def test_bitrix24_lead_list_in_cp1251(con, tmp_path):
    """Lead list: «Сконвертирован» -> open at sql (its sale is the deal's), «Некачественный
    лид» -> lost, closed at «Дата изменения» (no close column, said in the notes),
    «Не обработан» -> open at new; «50 000» «Российский рубль» -> 50000 RUB."""
    leads = (
        "ID;Название лида;Дата создания;Дата изменения;Стадия;Возможная сумма;Валюта;Источник\n"
        "7;Заявка;01.05.2024 09:15:00;03.05.2024 10:00:00;Сконвертирован;50 000;"
        "Российский рубль;Веб-сайт\n"
        "8;Звонок;02.05.2024 14:00:00;04.05.2024 18:30:00;Некачественный лид;;;Звонок\n"
        "9;Чат;05.05.2024 11:00:00;05.05.2024 11:00:00;Не обработан;;;Веб-сайт\n"
    )
    path = tmp_path / "LEAD.csv"
    path.write_bytes(leads.encode("cp1251"))
    result = load_source(con, "leads", path, salt=SALT, now=NOW)
    assert _deals(con) == [
        ("7", "7", "open", "sql", None, 50000.0, None, None),
        ("8", "8", "lost", "lost", "2024-05-04 18:30:00", None, None, None),
        ("9", "9", "open", "new", None, None, None, None),
    ]
    assert "1 closed deal(s) without a won/lost/close time" in " ".join(result.notes)


def test_bitrix24_deal_list_in_cp1251(con, tmp_path):
    """Deal list: «Сделка успешна» 1 234 567,50 and «Сделка провалена» 300 000, closed at
    «Дата закрытия», manager «Ответственный»."""
    deals = (
        "ID;Название;Стадия сделки;Сумма;Валюта;Дата создания;Дата закрытия;Ответственный\n"
        "31;Поставка;Сделка успешна;1 234 567,50;RUB;06.05.2024 10:00:00;20.05.2024 16:00:00;"
        "Иван Петров\n"
        "32;Монтаж;Сделка провалена;300 000;RUB;07.05.2024 12:00:00;21.05.2024 09:00:00;"
        "Иван Петров\n"
    )
    path = tmp_path / "DEAL.csv"
    path.write_bytes(deals.encode("cp1251"))
    load_source(con, "leads", path, salt=SALT, now=NOW)
    assert _deals(con) == [
        ("31", "31", "won", "won", "2024-05-20 16:00:00", 1234567.5, None, "Иван Петров"),
        ("32", "32", "lost", "lost", "2024-05-21 09:00:00", 300000.0, None, "Иван Петров"),
    ]


def test_hubspot_deals_export(con, tmp_path):
    """HubSpot deals export: «Closed Won» / «closedlost» (labels or internal values),
    «Contract Sent» open at proposal (its Close Date is an expected one: not a close)."""
    deals = (
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal owner,"
        "Closed Lost Reason\n"
        "901,Big,Closed Won,2500.5,2024-05-20 00:00,2024-05-01 09:00,Kate,\n"
        "902,Mid,closedlost,1000,2024-05-21 00:00,2024-05-02 09:00,Kate,No budget\n"
        "903,Small,Contract Sent,700,2024-06-30 00:00,2024-05-03 09:00,Kate,\n"
    )
    path = tmp_path / "hubspot-crm-exports-all-deals-2024-05-31.csv"
    path.write_text(deals, encoding="utf-8")
    load_source(con, "leads", path, salt=SALT, now=NOW)
    assert _deals(con) == [
        ("901", "901", "won", "won", "2024-05-20 00:00:00", 2500.5, None, "Kate"),
        ("902", "902", "lost", "lost", "2024-05-21 00:00:00", 1000.0, "No budget", "Kate"),
        ("903", "903", "open", "proposal", None, 700.0, None, "Kate"),
    ]


def test_hubspot_contacts_customer_lifecycle(con, tmp_path):
    """Contacts export: lifecycle «customer» is won at «Became a Customer Date», SQL at
    «Became a Sales Qualified Lead Date»; no amount column, no amount."""
    contacts = (
        "Record ID,Email,Create Date,Lifecycle Stage,Became a Sales Qualified Lead Date,"
        "Became a Customer Date\n"
        "501,x@y.io,2024-05-05 10:00,customer,2024-05-07 12:00,2024-05-25 15:00\n"
    )
    path = tmp_path / "hubspot-crm-exports-all-contacts-2024-05-31.csv"
    path.write_text(contacts, encoding="utf-8")
    load_source(con, "leads", path, salt=SALT, now=NOW)
    assert _deals(con) == [("501", "501", "won", "won", "2024-05-25 15:00:00", None, None, None)]
    assert _stages(con) == [
        ("501", "new", "2024-05-05 10:00:00"),
        ("501", "sql", "2024-05-07 12:00:00"),
        ("501", "won", "2024-05-25 15:00:00"),
    ]


def test_vocabulary_options_from_the_cli_and_params(con, tmp_path, monkeypatch, capsys):
    """``--option won=[Оплачено]`` and ``stages`` in ``params/sources.yaml`` name the
    account's own values; a stage that is not canonical is one clear line, exit 2."""
    text = (
        "ID;Дата создания;Дата изменения;Стадия\n"
        "1;01.05.2024 10:00:00;10.05.2024 10:00:00;Оплачено\n"
        "2;02.05.2024 10:00:00;11.05.2024 10:00:00;Встреча\n"
        "3;03.05.2024 10:00:00;12.05.2024 10:00:00;Отказ клиента\n"
    )
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode("cp1251"))
    settings = tmp_path / "sources.yaml"
    settings.write_text(
        "leads:\n  options:\n    stages: {Встреча: demo}\n    lost: [Отказ клиента]\n",
        encoding="utf-8",
    )
    result = load_source(con, "leads", path, salt=SALT, now=NOW, settings=settings, won="Оплачено")
    assert [r[2:4] for r in _deals(con)] == [("won", "won"), ("open", "demo"), ("lost", "lost")]
    assert "not in the vocabulary" not in " ".join(result.notes)

    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    args = ["load-source", "--kind", "leads", "--file", str(path)]
    warehouse_path = str(tmp_path / "w.duckdb")
    assert cli.main([*args, "--warehouse", warehouse_path, "--option", "won=[Оплачено]"]) == 0
    out = capsys.readouterr().out
    assert "2 status/stage value(s) not in the vocabulary, counted as open" in out
    assert "'Встреча' (1)" in out and "'Отказ клиента' (1)" in out
    bad = ["--option", "stages={Встреча: meeting}"]
    assert cli.main([*args, "--warehouse", warehouse_path, *bad]) == 2
    err = capsys.readouterr().err
    assert "'meeting' is not a stage" in err and len(err.strip().splitlines()) == 1


def test_conflicting_options_are_refused(con, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("ID,Create Date,Status\n1,2024-05-01,Paid\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"option lost: 'paid' is also given as won"):
        load_source(con, "leads", path, salt=SALT, now=NOW, won=["Paid"], lost="paid")


def test_export_without_outcome_columns_loads_no_deals(con, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("Record ID,Create Date,Email\n1,2024-05-01 10:00,a@b.io\n", encoding="utf-8")
    load_source(con, "leads", path, salt=SALT, now=NOW)
    assert con.execute("SELECT count(*) FROM leads").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM deals").fetchone() == (0,)
    assert _logged(con, "deals") == []


@pytest.fixture(scope="module")
def pipedrive_warehouse(tmp_path_factory):
    """A warehouse holding only the Pipedrive fixture plus five deals still open in
    Lead In (6-10: no revenue, no close)."""
    from analytics import warehouse as wh

    more = "".join(
        f"{i},Lead {i},Anna,{i}000,RUB,open,Lead In,2024-05-{i:02d} 10:00:00,,,,,"
        f"2024-05-{i:02d} 10:00:00,\n"
        for i in range(6, 11)
    )
    con = wh.connect(":memory:")
    wh.init_schema(con)
    _load_pipedrive(con, tmp_path_factory.mktemp("pipedrive"), PIPEDRIVE + more)
    yield con
    con.close()


def test_loaded_deals_give_booked_revenue_and_win_rate(pipedrive_warehouse):
    """May 2024, by hand:

    * won: deal 1 (120 000 RUB, 05-10) and deal 4 (1 000 USD × 90 = 90 000 RUB, 05-15)
      -> booked revenue 210 000 RUB, sales 2, average deal 105 000 RUB;
    * lost: deal 2 (05-12) -> win rate = 2 / (2 + 1) = 66.67 %;
      Anna 1 won / 1 lost = 50 %, revenue 120 000; Boris 1 won / 0 lost = 100 %, 90 000.
    """
    from analytics.metrics import kpi, revenue
    from analytics.metrics.period import Period

    con = pipedrive_warehouse
    may = Period(date(2024, 5, 1), date(2024, 5, 31), "2024-05")
    booked = revenue.booked_summary(con, may).iloc[0]
    assert (booked["revenue"], booked["sales"], booked["average_deal"]) == (210000.0, 2, 105000.0)
    by_manager = kpi.win_rate_by_manager(con, may).set_index("manager")
    won, closed = by_manager["won"].sum(), by_manager["closed"].sum()
    assert (won, closed, won * 100 / closed) == (2, 3, pytest.approx(200 / 3))
    assert by_manager.loc["Anna", ["won", "lost", "win_rate", "revenue"]].tolist() == [
        1, 1, 50.0, 120000.0
    ]  # fmt: skip
    assert by_manager.loc["Boris", ["won", "lost", "win_rate", "revenue"]].tolist() == [
        1, 0, 100.0, 90000.0
    ]  # fmt: skip


def test_loaded_deals_give_scoring_labels_the_model_trains_on(pipedrive_warehouse):
    """SQL within 30 days (``sql_target``, data end 2024-06-30), by hand: deal 1 reached
    proposal on 05-08 (6 days) -> 1; deal 2 proposal 05-06 (3 days) -> 1; deal 3
    proposal 05-20 (14 days) -> 1; deal 4 won 05-15, demo on 05-09 (1.8 days) -> 1 (demo and
    won are stages at or after SQL); deal 5 never past new -> 0; deals 6-10 -> 0."""
    from analytics.scoring.features import lead_features, sql_target
    from analytics.scoring.model import LeadScoringModel

    con = pipedrive_warehouse
    target = sql_target(con, 30, end=pd.Timestamp("2024-06-30"))
    assert target.to_dict() == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 0} | {
        str(i): 0 for i in range(6, 11)
    }
    # the scorer trains on these labels (a logistic fit on ten leads)
    features = lead_features(con, similarity=False, params={}).drop(columns="created_at")
    model = LeadScoringModel(kind="logistic", calibration_share=0.4, random_state=0)
    model.fit(features.loc[target.index], target)
    assert model.predict_proba(features).shape == (10, 2)


def test_check_counts_the_deals_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """``load-source --check``: the summary counts the 5 deals, the warehouse file is unchanged."""
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    path = tmp_path / "deals.csv"
    path.write_text(PIPEDRIVE, encoding="utf-8")
    warehouse_path = tmp_path / "w.duckdb"
    base = ["load-source", "--kind", "leads", "--file", str(path), "--warehouse"]
    first = tmp_path / "first.csv"
    first.write_text("Record ID,Create Date\n99,2024-05-01 10:00\n", encoding="utf-8")
    assert cli.main(["load-source", "--kind", "leads", "--file", str(first), "--warehouse",
                     str(warehouse_path)]) == 0  # fmt: skip
    before = warehouse_path.read_bytes()
    capsys.readouterr()
    options = ["--option", "rates={USD: 90}", "--check"]
    assert cli.main([*base, str(warehouse_path), *options]) == 0
    out = capsys.readouterr().out
    assert "deals: 5 row(s) (2 won, 1 lost, 2 open) -> 5 inserted" in out
    assert "deal_stages: 12 stage(s) -> 12 inserted" in out
    assert warehouse_path.read_bytes() == before


def test_deals_false_keeps_the_outcome_columns_as_lead_fields(con, tmp_path):
    """``--option deals=false``: no deals; ``Deal - Value`` and the other outcome columns
    stay lead fields under their headers (the behaviour before deals)."""
    text = PIPEDRIVE_HEADER + (
        "1,Acme deal,Anna,120000,RUB,won,Negotiations Started,2024-05-02 10:00:00,"
        "2024-05-08 12:00:00,2024-05-10 15:00:00,,,2024-05-10 15:00:00,a@acme.io\n"
    )
    _load_pipedrive(con, tmp_path, text, deals=False)
    assert con.execute("SELECT count(*) FROM deals").fetchone() == (0,)
    assert con.execute("SELECT field, value FROM lead_fields ORDER BY field").fetchall() == [
        ("Deal - Currency", "RUB"),
        ("Deal - Last stage change", "2024-05-08 12:00:00"),
        ("Deal - Owner", "Anna"),
        ("Deal - Title", "Acme deal"),
        ("Deal - Value", "120000"),
        ("Deal - Won time", "2024-05-10 15:00:00"),
        ("stage", "Negotiations Started"),
        ("status", "won"),
    ]
