"""The AI layer: model providers (pydantic-ai) and magic input."""
