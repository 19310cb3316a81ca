"""Orchestration of slash-commands and auto-merge: facts from GitHub, pure decisions, actions."""
