"""API tokens: created in the dashboard, shown once, usable on the REST API, then revoked."""

from __future__ import annotations

import requests

from app.usecases import access

CREATE = "[data-testid=token-form] button[type=submit]"


def test_token_made_in_the_dashboard_works_on_rest_until_revoked(login, live_url, in_app, shot):
    page = login("admin")
    page.goto("/admin/tokens/")
    page.fill("#name", "erp-sync")
    page.click(CREATE)
    assert (
        "Choose at least one permission." in page.get_by_test_id("error-permissions").inner_text()
    )
    page.check("input[value=view]")
    page.check("input[value=save]")
    page.click(CREATE)
    token = page.get_by_test_id("token-once").inner_text().strip()
    shot(page, "created")
    auth = {"Authorization": f"Bearer {token}"}
    body = {
        "asyncEvent": {
            "event_name": "example.event",
            "recipient_url": "http://x.test/",
            "verification_token": "v",
            "metadata": "http",
        }
    }
    created = requests.post(f"{live_url}/rest/V1/async_event", json=body, headers=auth, timeout=5)
    assert created.status_code == 200, created.text
    listed = requests.get(
        f"{live_url}/rest/V1/async_events?searchCriteria=", headers=auth, timeout=5
    )
    assert listed.json()["total_count"] == 1
    logs = requests.get(f"{live_url}/rest/V1/async_event_logs?q=*", headers=auth, timeout=5)
    assert logs.status_code == 403  # logs_list was not granted
    page.goto("/admin/tokens/")
    assert page.get_by_test_id("token-once").count() == 0  # never shown again
    row = page.get_by_test_id("tokens").locator("tbody tr", has_text="erp-sync")
    assert "save" in row.inner_text() and "never" not in row.inner_text()  # last used
    page.on("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Revoke").click()
    page.get_by_text("Token 'erp-sync' was revoked.").wait_for()
    shot(page, "revoked")
    again = requests.get(
        f"{live_url}/rest/V1/async_events?searchCriteria=", headers=auth, timeout=5
    )
    assert again.status_code == 401
    assert in_app(lambda: access.find_token(token)) is None


def test_operators_cannot_manage_tokens(login, page) -> None:
    login("operator")
    assert page.goto("/admin/tokens/").status == 403
    assert page.request.post("/admin/tokens/revoke/1").status in (400, 403)
