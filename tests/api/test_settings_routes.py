"""``GET|PUT /api/settings``: the user's default AI provider and model."""

from __future__ import annotations

import httpx
import pytest

EMPTY = {"defaultAiProvider": None, "defaultAiModel": None}


def test_defaults_start_empty_then_are_saved_per_user(
    ada: httpx.Client, grace: httpx.Client
) -> None:
    # Given: a new user has no defaults
    assert ada.get("/api/settings").json() == EMPTY

    # When: they choose a provider and a model (with stray spaces)
    saved = ada.put(
        "/api/settings", json={"defaultAiProvider": "anthropic", "defaultAiModel": " claude-x "}
    )

    # Then: the trimmed choice is returned and read back; another user is unaffected
    expected = {"defaultAiProvider": "anthropic", "defaultAiModel": "claude-x"}
    assert saved.status_code == 200, saved.text
    assert saved.json() == expected
    assert ada.get("/api/settings").json() == expected
    assert grace.get("/api/settings").json() == EMPTY

    # When: they clear them (fields left out are cleared)
    cleared = ada.put("/api/settings", json={})

    # Then: no defaults again
    assert cleared.json() == EMPTY
    assert ada.get("/api/settings").json() == EMPTY


@pytest.mark.parametrize(
    ("body", "status", "field_or_message"),
    [
        ({"defaultAiProvider": "mistral"}, 422, "defaultAiProvider"),
        ({"defaultAiProvider": "openai", "defaultAiModel": "m" * 201}, 422, "defaultAiModel"),
        ({"defaultAiModel": "gpt-4o"}, 422, "choose the AI provider"),
        ({"defaultAiProvider": "openai", "defaultAiModel": "a\x00b"}, 422, "NUL"),
    ],
    ids=["unknown-provider", "long-model", "model-without-provider", "nul"],
)
def test_invalid_settings_are_refused_in_the_error_format(
    ada: httpx.Client, body: dict[str, str], status: int, field_or_message: str
) -> None:
    response = ada.put("/api/settings", json=body)

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert field_or_message in (error["message"] + str(error["details"]))
    assert ada.get("/api/settings").json() == EMPTY


def test_settings_need_a_signed_in_user(anonymous: httpx.Client) -> None:
    assert anonymous.get("/api/settings").status_code == 401
    assert anonymous.put("/api/settings", json={}).status_code == 401
