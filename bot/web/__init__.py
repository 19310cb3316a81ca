"""The edge: HTTP endpoints (webhook intake, health, metrics, setup page, log pages)."""
