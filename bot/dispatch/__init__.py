"""Orchestration: webhook deliveries become events, routed to the feature handlers."""
