"""Pipelines that turn the engine's models into tracked, gated MLflow runs, and the ``crm`` CLI."""
