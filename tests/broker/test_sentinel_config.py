"""The Redis Sentinel settings: URLs and REDIS_SENTINELS, good and malformed (no servers)."""

from __future__ import annotations

import re

import pytest

from app import create_app
from app.broker.sentinel_config import SentinelSettings, from_config, parse_url

S = "redis+sentinel://"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{S}h1/mymaster", SentinelSettings((("h1", 26379),), "mymaster")),
        (
            f"{S}:s%40cret@h1:26380,h2:26381/cache/3",
            SentinelSettings((("h1", 26380), ("h2", 26381)), "cache", 3, None, "s@cret"),
        ),
        (
            f"{S}app:pw@[::1]:5000,[fe80::1]/mymaster/",
            SentinelSettings((("::1", 5000), ("fe80::1", 26379)), "mymaster", 0, "app", "pw"),
        ),
        ("REDIS+SENTINEL://h1:1/m%20x/0", SentinelSettings((("h1", 1),), "m x")),
    ],
)
def test_sentinel_urls_parse(url, expected):
    assert parse_url(url) == expected
    assert parse_url(expected.url()) == expected  # the canonical form reads back the same


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h1:6379/0", "starts with 'redis+sentinel://'"),
        (f"{S}/mymaster", "no sentinel host given"),
        (f"{S}h1:26379", "name the service, as in /mymaster"),
        (f"{S}h1:26379/", "name the service"),
        (f"{S}h1:port/mymaster", "port must be 1-65535, got 'port'"),
        (f"{S}h1:0/mymaster", "port must be 1-65535, got '0'"),
        (f"{S}h1:65536/mymaster", "port must be 1-65535, got '65536'"),
        (f"{S}h1:١٢/mymaster", "port must be 1-65535"),
        (f"{S}h1:26379,:26380/mymaster", "empty host in ':26380'"),
        (f"{S}::1:26379/mymaster", "in brackets: [addr]:port"),
        (f"{S}[::1/mymaster", "bad bracketed IPv6 address"),
        (f"{S}[::1]x/mymaster", "bad bracketed IPv6 address"),
        (f"{S}h1/mymaster/x", "db must be a non-negative integer, got 'x'"),
        (f"{S}h1/mymaster/-1", "db must be a non-negative integer, got '-1'"),
        (f"{S}h1/mymaster/0/extra", "the path is /service[/db]"),
        (f"{S}h1/mymaster?socket_timeout=1", "query strings and fragments are not supported"),
        (f"{S}user@h1/mymaster", "write the password as ':password@'"),
    ],
)
def test_malformed_sentinel_urls_are_refused_precisely(url, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_url(url)


def test_an_error_never_shows_the_password():
    with pytest.raises(ValueError) as refused:
        parse_url(f"{S}app:hunter2@h1/mymaster/nope")
    assert "hunter2" not in str(refused.value)
    assert "app:***@h1" in str(refused.value)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, None),
        ({"REDIS_URL": "redis://h:6379/1"}, None),
        ({"REDIS_URL": f"{S}h1/m"}, SentinelSettings((("h1", 26379),), "m")),
        (
            {"REDIS_URL": f"{S}:p@h1/m/2", "REDIS_SENTINEL_PASSWORD": "sp"},
            SentinelSettings((("h1", 26379),), "m", 2, None, "p", "sp"),
        ),
        (
            {
                "REDIS_SENTINELS": " h1:1 , h2 ",
                "REDIS_SENTINEL_MASTER": "m",
                "REDIS_PASSWORD": "p",
                "REDIS_DB": "4",
                "REDIS_SENTINEL_PASSWORD": "sp",
            },
            SentinelSettings((("h1", 1), ("h2", 26379)), "m", 4, None, "p", "sp"),
        ),
    ],
)
def test_settings_pick_the_form(config, expected):
    assert from_config(config) == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"REDIS_URL": "redis://h/0", "REDIS_SENTINELS": "h1"}, "REDIS_URL or REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "h1"}, "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINELS": ",", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS: no sentinel"),
        ({"REDIS_SENTINELS": "h1", "REDIS_SENTINEL_MASTER": "m", "REDIS_DB": "one"}, "REDIS_DB"),
        ({"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_MASTER apply only with REDIS_SENTINELS"),
        ({"REDIS_URL": "redis://h/0", "REDIS_DB": "1"}, "REDIS_DB apply only"),
        ({"REDIS_URL": "redis://h/0", "REDIS_SENTINEL_PASSWORD": "x"}, "not reached through"),
        ({"REDIS_URL": "rediss+sentinel://h1/m"}, "TLS through Sentinel"),
    ],
)
def test_conflicting_settings_are_refused_precisely(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        from_config(config)


def test_the_app_refuses_to_start_on_a_malformed_sentinel_url(tmp_path):
    with pytest.raises(ValueError, match="port must be 1-65535"):
        create_app({"INSTANCE_PATH": str(tmp_path), "REDIS_URL": f"{S}h1:x/mymaster"})
