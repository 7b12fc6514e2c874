"""Storage: models, the engine, query functions and migrations. Knows nothing of Slack."""
