"""The settings page in a real browser: API tokens shown once, revoked; AI defaults."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import RunningApp
from tests.ui.test_credentials_pages import (
    LOAD_TIMEOUT,
    owner_api,
    received_frames,
    settled_screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


def test_a_token_is_shown_once_works_and_can_be_revoked(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    page = signed_in_page
    frames = received_frames(page)
    page.goto(f"{running_app.url}/settings")
    expect(page.get_by_text("No API tokens yet")).to_be_visible(timeout=LOAD_TIMEOUT)
    settled_screenshot(page, "settings")

    # When: a token is created
    page.get_by_label("Token name").fill("CI deploy")
    page.get_by_role("button", name="Create token").click()

    # Then: it is shown once, with a warning and a copy button, and it works
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This is the only time the token is shown")
    expect(dialog.get_by_role("button", name="Copy token")).to_be_visible()
    token = dialog.locator(".new-token").inner_text().strip()
    assert token.startswith("wf_") and len(token) > 20
    settled_screenshot(page, "settings-token-created")
    with httpx.Client(base_url=running_app.url, timeout=10) as script:
        me = script.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
    expect(page.locator(".token-row", has_text="CI deploy")).to_contain_text(token[:10])

    # When: the page is reloaded with the dialog still open
    frames.clear()
    page.reload()

    # Then: the token is listed by its first characters only, and sent nowhere again
    listed = page.locator(".token-row", has_text="CI deploy")
    expect(listed).to_be_visible(timeout=LOAD_TIMEOUT)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert frames
    assert not [frame for frame in frames if token in frame]
    assert token not in page.content()
    assert token[:10] in listed.inner_text()

    # When: it is revoked after the confirmation
    listed.get_by_role("button", name="Revoke").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Revoke CI deploy?")
    settled_screenshot(page, "settings-revoke")
    confirm.get_by_role("button", name="Revoke token").click()

    # Then: it is gone from the list and refused at once
    expect(page.locator(".token-row", has_text="CI deploy")).to_have_count(0)
    expect(page.get_by_text("No API tokens yet")).to_be_visible()
    with httpx.Client(base_url=running_app.url, timeout=10) as script:
        me = script.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401


def test_closing_the_token_dialog_forgets_the_token(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    page = signed_in_page
    page.goto(f"{running_app.url}/settings")
    expect(page.get_by_label("Token name")).to_be_visible(timeout=LOAD_TIMEOUT)
    page.get_by_label("Token name").fill("Nightly export")
    page.get_by_role("button", name="Create token").click()
    dialog = page.get_by_role("dialog")
    token = dialog.locator(".new-token").inner_text().strip()
    assert token.startswith("wf_")

    dialog.get_by_role("button", name="I have copied it").click()

    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_label("Token name")).to_have_value("")
    assert token not in page.content()
    listed = page.locator(".token-row", has_text="Nightly export")
    listed.get_by_role("button", name="Revoke").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Revoke token").click()
    expect(listed).to_have_count(0)


def test_the_default_ai_provider_and_model_are_saved(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    page = signed_in_page
    page.goto(f"{running_app.url}/settings")
    provider = page.get_by_role("combobox", name="Provider")
    expect(provider).to_be_visible(timeout=LOAD_TIMEOUT)

    # When: a model is saved without a provider, the page says what is missing
    page.get_by_label("Model").fill("claude-sonnet-4-5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Choose the AI provider of the default model.")).to_be_visible()

    # When: a provider is chosen and saved
    provider.click()
    page.get_by_role("option", name="Anthropic").click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Default AI provider saved")).to_be_visible()
    settled_screenshot(page, "settings-ai-defaults")

    # Then: it is stored for the user and shown after a reload
    with owner_api(running_app) as api:
        assert api.get("/api/settings").json() == {
            "defaultAiProvider": "anthropic",
            "defaultAiModel": "claude-sonnet-4-5",
        }
    page.reload()
    expect(page.get_by_label("Model")).to_have_value("claude-sonnet-4-5", timeout=LOAD_TIMEOUT)
    expect(page.get_by_role("combobox", name="Provider")).to_contain_text("Anthropic")

    # When: cleared, both are gone
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.get_by_label("Model")).to_have_value("")
    with owner_api(running_app) as api:
        assert api.get("/api/settings").json()["defaultAiProvider"] is None
