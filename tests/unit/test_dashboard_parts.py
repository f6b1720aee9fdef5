"""The dashboard's pure parts: CSRF tokens and the Origin rule, the SVG chart, where the dashboard lives."""

from __future__ import annotations

from typing import Any

import pytest

from filegate.dashboard import charts, csrf
from filegate.dashboard.web import mail_link, origin_of


def test_a_csrf_token_is_bound_to_its_cookie() -> None:
    token = csrf.token_for("cookie-a")
    assert csrf.token_matches("cookie-a", token)
    assert not csrf.token_matches("cookie-b", token)
    assert not csrf.token_matches(None, token) and not csrf.token_matches("cookie-a", None)
    assert "cookie-a" not in token and token == csrf.token_for("cookie-a")


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),  # no browser metadata: the token alone decides
        ({"origin": "https://api.example.com"}, True),
        ({"origin": "https://API.example.com", "sec-fetch-site": "same-origin"}, True),
        ({"sec-fetch-site": "none"}, True),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "https://api.example.com.evil.example"}, False),
        ({"origin": "null"}, False),
        ({"origin": "null", "sec-fetch-site": "same-origin"}, True),  # a form POST under no-referrer
        ({"origin": "null", "sec-fetch-site": "none"}, False),
        ({"origin": "https://api.example.com", "sec-fetch-site": "cross-site"}, False),
        ({"sec-fetch-site": "same-site"}, False),
        ({"origin": "file://api.example.com"}, False),
    ],
)
def test_same_origin(headers: dict[str, str], allowed: bool) -> None:
    assert csrf.same_origin(headers, "api.example.com") is allowed


def test_the_chart_escapes_labels_and_describes_itself() -> None:
    points = [charts.Period("<script>", "<s>", {"conversions": 3}), charts.Period("b", "b", {"conversions": 0})]
    points.append(charts.Period("c", "c", {"conversions": 6}))
    svg = str(charts.bar_chart(points, title="T & <x>", chart_id="c1", empty="Nothing <yet>."))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "T &amp; &lt;x&gt;" in svg
    assert svg.count('class="bar s-conv"') == 2 and 'role="img"' in svg and "the most, 6, in c" in svg
    assert "style=" not in svg and "Nothing" not in svg  # the empty sentence only when there is nothing
    empty = str(charts.bar_chart([], title="none", chart_id="c2", empty="Nothing <yet>."))
    assert "Nothing &lt;yet&gt;." in empty


class _Request:
    def __init__(self, context: dict[str, Any], host: str = "") -> None:
        self.scope = {"aws.event": {"requestContext": context}}
        self.headers = {"host": host} if host else {}


def test_the_stage_prefixes_urls_on_api_gateways_own_domain_only() -> None:
    aws = origin_of(_Request({"domainName": "abc.execute-api.eu-west-1.amazonaws.com", "stage": "prod"}))  # type: ignore[arg-type]
    assert aws.url("/dashboard") == "/prod/dashboard" and aws.scheme == "https"
    assert aws.absolute("/dashboard/login") == "https://abc.execute-api.eu-west-1.amazonaws.com/prod/dashboard/login"
    local = origin_of(_Request({"domainName": "127.0.0.1:3000", "stage": "prod"}))  # type: ignore[arg-type]
    assert local.url("/dashboard") == "/dashboard" and local.absolute("/x") == "http://127.0.0.1:3000/x"
    custom = origin_of(_Request({"domainName": "files.example.com", "stage": "prod"}))  # type: ignore[arg-type]
    assert custom.absolute("/dashboard") == "https://files.example.com/dashboard"
    ipv6 = origin_of(_Request({"domainName": "[::1]:3000", "stage": "prod"}))  # type: ignore[arg-type]
    assert ipv6.absolute("/x") == "http://[::1]:3000/x"


def test_mailed_links_use_the_public_base_url_when_the_stack_has_a_domain() -> None:
    """A sign-in started on the execute-api address still mails the custom domain's link (docs/deploy.md)."""
    via_aws = _Request({"domainName": "abc.execute-api.eu-west-1.amazonaws.com", "stage": "prod"})
    confirm = "/dashboard/login/confirm"
    assert mail_link("https://files.example.com/", via_aws, confirm) == "https://files.example.com" + confirm  # type: ignore[arg-type]
    assert mail_link("", via_aws, confirm) == "https://abc.execute-api.eu-west-1.amazonaws.com/prod" + confirm  # type: ignore[arg-type]
    local = _Request({"domainName": "127.0.0.1:3000", "stage": "prod"})
    assert mail_link("", local, confirm) == "http://127.0.0.1:3000" + confirm  # type: ignore[arg-type]
