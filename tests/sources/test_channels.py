"""Tests for :mod:`analytics.sources.channels`: ordered, editable channel rules."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.sources.channels import ChannelRules, load_channel_rules
from analytics.warehouse import InputError


def test_first_matching_rule_wins_with_exact_list_and_regex_values():
    rules = ChannelRules.from_dict(
        {
            "default": "other",
            "rules": [
                {"channel": "brand", "source": "yandex", "campaign": {"regex": ".*brand.*"}},
                {"channel": "search", "source": ["yandex", "google"], "medium": "cpc"},
                {"channel": "direct", "source": "", "medium": ""},
            ],
        }
    )
    source = pd.Series(["Yandex ", "google", "yandex", None, "bing"])
    medium = pd.Series(["cpc", "CPC", "cpc", None, "cpc"])
    campaign = pd.Series(["yd_brand_1", None, "generic", None, None])
    assigned = rules.assign(source, medium, campaign)
    assert assigned.tolist() == ["brand", "search", "search", "direct", "other"]


def test_default_rules_reproduce_the_demo_channels(tiny_demo):
    visits = tiny_demo.tables["visits"]
    source = visits["utm_source"].where(visits["utm_source"].notna(), "(direct)")
    medium = visits["utm_medium"].where(visits["utm_medium"].notna(), "(none)")
    assigned = load_channel_rules().assign(source, medium, visits["utm_campaign"])
    assert (assigned.to_numpy() == visits["channel"].to_numpy()).all()


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"rules": [{"source": "x"}]}, "rule 1: needs a 'channel'"),
        ({"rules": [{"channel": "a", "device": "x"}]}, "rule 1: unknown field(s) device"),
        ({"rules": [{"channel": "a", "medium": {"regex": "("}}]}, "rule 1: bad regex for medium"),
        ({"rules": [{"channel": "a", "medium": {"glob": "*"}}]}, "rule 1: medium must be"),
        ({"rule": []}, "expected a mapping with a 'rules' list"),
    ],
)
def test_bad_rules_raise_naming_the_rule(spec, problem):
    with pytest.raises(InputError) as raised:
        ChannelRules.from_dict(spec, "rules.yaml")
    assert str(raised.value).startswith(f"rules.yaml: {problem}")


def test_rules_from_yaml_file(tmp_path):
    path = tmp_path / "channels.yaml"
    path.write_text("rules:\n  - channel: paid\n    medium: {regex: 'cp[cm]'}\n")
    rules = ChannelRules.from_yaml(path)
    assert rules.default == "unassigned"
    assigned = rules.assign(pd.Series(["a", "b"]), pd.Series(["cpm", "organic"]))
    assert assigned.tolist() == ["paid", "unassigned"]
    path.write_text("rules: [\n")
    with pytest.raises(InputError, match="channels.yaml: not valid YAML"):
        ChannelRules.from_yaml(path)
    with pytest.raises(InputError, match="missing.yaml: channel rules file not found"):
        ChannelRules.from_yaml(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "channel"),
    [
        ("google", "pmax", "any", "google_pmax"),
        ("google", "cpc", "PMax | all products", "google_pmax"),
        ("google", "cpc", "performance_max_shoes", "google_pmax"),
        ("google", "demand_gen", "", "google_demand_gen"),
        ("google", "cpc", "DemandGen lookalike", "google_demand_gen"),
        ("youtube", "cpv", "", "youtube"),
        ("google", "video", "", "youtube"),
        ("yandex", "master", "", "yandex_master"),
        ("yandex", "cpc", "Мастер кампаний | товары", "yandex_master"),
        ("vk_reklama", "cpc", "", "vk_ads"),
        ("ads.vk.com", "", "", "vk_ads"),
        ("telegram", "cpc", "", "telegram_ads"),
        ("tg", "paid", "", "telegram_ads"),
        ("telegram", "social", "", "social"),
        ("yandex", "cpc", "brand", "yandex_search"),
        ("google", "display", "", "google_display"),
    ],
)
def test_default_rules_cover_todays_campaign_types(source, medium, campaign, channel):
    """Issue 17: automated campaign types do not fall into search, display or unassigned;
    an organic Telegram post (medium social) stays social."""
    assigned = load_channel_rules().assign(
        pd.Series([source]), pd.Series([medium]), pd.Series([campaign])
    )
    assert assigned.tolist() == [channel]


def test_channel_labels_follow_an_edit_of_the_file(tmp_path):
    """Labels are parsed once per version of the file: an edit (new size) is read again."""
    import os

    from analytics.sources.channels import channel_label, channel_labels

    path = tmp_path / "channels.yaml"
    path.write_text("labels:\n  seo: {ru: Поиск, en: Search}\n", encoding="utf-8")
    assert channel_label("seo", "ru", path) == "Поиск"
    assert channel_label("seo", "en-GB", path) == "Search"
    assert channel_label("direct", "ru", path) == "direct"  # no label: the name itself
    channel_labels(path)["seo"]["ru"] = "changed by a caller"
    assert channel_label("seo", "ru", path) == "Поиск"  # callers get a copy
    stat = path.stat()
    path.write_text("labels:\n  seo: {ru: Органика, en: Organic search}\n", encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: the size differs
    assert channel_labels(path) == {"seo": {"ru": "Органика", "en": "Organic search"}}
    path.write_text("labels: [seo]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"channels\.yaml: 'labels' must map a channel"):
        channel_labels(path)
