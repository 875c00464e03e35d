"""Signing in and out in a real browser, and what a stranger sees."""

from __future__ import annotations

import re

from tests.admin.browser.conftest import PASSWORD


def test_sign_in_and_out(page, user, shot) -> None:
    user("admin")
    page.goto("/admin/")
    assert "/admin/login" in page.url  # signed out: every page sends you to the login
    shot(page, "login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    assert page.get_by_test_id("signed-in-as").inner_text() == "admin · admin"
    shot(page, "home")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/admin/login"))
    page.goto("/admin/")
    assert "/admin/login" in page.url


def test_wrong_password_is_refused_then_throttled(page, user, app, shot) -> None:
    user("admin")
    limit = app.config["ADMIN_LOGIN_FAILURE_LIMIT"]
    page.goto("/admin/login")
    for _ in range(limit):
        page.fill("#username", "admin")
        page.fill("#password", "wrong")
        page.click("button[type=submit]")
        page.get_by_text("Invalid username or password.").wait_for()
    shot(page, "refused")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)  # right, but too late: the window is closed
    page.click("button[type=submit]")
    page.get_by_text("Too many failed sign-in attempts").wait_for()
    shot(page, "throttled")
    assert "/admin/login" in page.url


def test_after_sign_in_goes_back_to_the_page_asked_for(page, user) -> None:
    user("admin")
    page.goto("/admin/?x=1")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/\?x=1$"))


def test_the_default_account_must_choose_a_new_password_first(page, runner, shot) -> None:
    assert runner.invoke(args=["create-admin", "--default", "--if-missing"]).exit_code == 0
    page.goto("/admin/")
    page.fill("#username", "admin")
    page.fill("#password", "admin")  # what `make run` creates
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/password\?next=/admin/$"))
    assert page.get_by_test_id("must-change").is_visible()
    assert page.locator(".navbar").count() == 0  # no menu to other pages
    shot(page, "must-change")
    for other in ("/admin/logs/", "/admin/subscribers/", "/admin/users/", "/admin/tokens/"):
        page.goto(other)
        assert "/admin/password" in page.url, other
    page.goto("/admin/")
    page.fill("#current", "admin")
    page.fill("#new", "admin")  # too short, and the same
    page.fill("#confirm", "admin")
    page.click("button:has-text('Change password')")
    page.get_by_test_id("error-new").wait_for()
    shot(page, "refused")
    page.fill("#current", "admin")
    page.fill("#new", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button:has-text('Change password')")
    page.wait_for_url(re.compile(r"/admin/$"))
    page.get_by_text("Your password was changed.").wait_for()
    assert page.get_by_test_id("signed-in-as").inner_text() == "admin · admin"
    shot(page, "dashboard")
    page.goto("/admin/logs/")
    assert "/admin/logs/" in page.url
