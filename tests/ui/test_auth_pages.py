"""First run and accounts in a real browser: owner setup, sign-in, sign-out.

The first test needs the install untouched (its owner not yet claimed), so this module
sorts first among the browser tests, which share one running app.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import OWNER_EMAIL, OWNER_PASSWORD, RunningApp, screenshot
from workfuse.demo import DEMO_NAME

#: The first test also waits for the app's first production build.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


def test_first_run_asks_for_the_owner_account_then_shows_the_demo(
    running_app: RunningApp, page: Page
) -> None:
    # Given a fresh embedded install, When a person opens the app
    page.goto(running_app.url)

    # Then they are sent to sign in, which offers to create the owner account
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"), timeout=30_000)
    expect(page).to_have_title("Sign in · WorkFuse")
    screenshot(page, "sign-in")
    page.get_by_role("link", name="Create the owner account").click()
    expect(page.get_by_text("The demo workflow becomes yours.")).to_be_visible()

    # When they create it with a weak password, the broken rule is shown and nothing changes
    page.get_by_label("Email").fill(OWNER_EMAIL)
    page.get_by_label("Password").fill("aaaaaaaaaaaa")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".auth-error")).to_contain_text("at least 5 different characters")
    expect(page.get_by_label("Email")).to_have_value(OWNER_EMAIL)
    screenshot(page, "sign-up-error")

    # And then with a good one
    page.get_by_label("Name").fill("Ada")
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # Then the workflows page lists the demo workflow as theirs, active, with its size
    expect(page).to_have_title("Workflows · WorkFuse", timeout=30_000)
    row = page.locator(".workflow-row", has_text=DEMO_NAME)
    expect(row).to_be_visible(timeout=30_000)
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("6 nodes · v1")
    expect(page.get_by_text(OWNER_EMAIL)).to_be_visible()
    screenshot(page, "workflows")


def test_a_wrong_password_is_refused_and_sign_out_ends_the_session(
    running_app: RunningApp, page: Page, owner: None
) -> None:
    # Given the sign-in page
    page.goto(f"{running_app.url}/sign-in")

    # When the password is wrong, Then the page says so without saying which part
    page.get_by_label("Email").fill(OWNER_EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".auth-error")).to_contain_text("the email or password is not right")

    # When it is right, Then the workflows page opens
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".workflow-row")).to_have_count(1, timeout=30_000)

    # When they sign out, Then they are back at sign-in and "/" sends them there again
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in/?$"), timeout=30_000)
    page.goto(running_app.url)
    expect(page).to_have_url(re.compile(r"/sign-in\?next="), timeout=30_000)
