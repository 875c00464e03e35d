"""Users: created with a role, refused when the name is taken, given a new password, deactivated."""

from __future__ import annotations

from app.usecases import access

CREATE = "[data-testid=user-form] button[type=submit]"


def test_create_reset_and_deactivate_a_user(login, in_app, shot) -> None:
    page = login("admin")
    page.goto("/admin/users/")
    page.fill("#username", "dana")
    page.select_option("#role", "operator")
    page.fill("#password", "first-password-1")
    page.click(CREATE)
    page.get_by_text("User 'dana' was created as operator.").wait_for()
    assert in_app(lambda: access.check_user("dana", "first-password-1")) is not None
    page.fill("#username", "dana")
    page.fill("#password", "another-password")
    page.click(CREATE)
    assert "already exists" in page.get_by_test_id("error-username").inner_text()
    shot(page, "taken")
    row = page.get_by_test_id("users").locator("tbody tr", has_text="dana")
    row.locator("input[type=password]").fill("second-password-2")
    row.get_by_role("button", name="Set").click()
    page.get_by_text("The password of 'dana' was changed.").wait_for()
    assert in_app(lambda: access.check_user("dana", "second-password-2")) is not None
    page.on("dialog", lambda d: d.accept())
    page.get_by_test_id("users").locator("tbody tr", has_text="dana").get_by_role(
        "button", name="Deactivate"
    ).click()
    page.get_by_text("User 'dana' was deactivated.").wait_for()
    shot(page, "deactivated")
    assert in_app(lambda: access.check_user("dana", "second-password-2")) is None


def test_an_admin_cannot_deactivate_themselves(login, in_app) -> None:
    page = login("admin")
    page.goto("/admin/users/")
    mine = page.get_by_test_id("users").locator("tbody tr", has_text="admin")
    assert mine.get_by_role("button", name="Deactivate").count() == 0
    me = in_app(lambda: access.find_user("admin").id)
    token = page.locator("input[name=csrf_token]").first.input_value()
    page.request.post(f"/admin/users/{me}/active", form={"csrf_token": token})
    assert in_app(lambda: access.find_user("admin").active)
