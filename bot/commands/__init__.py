"""Slash-commands and check-run buttons carried out: a person asks, Greenlight acts.

Parsing and the permission rules are pure (`bot.core.commands`, `bot.core.permissions`);
here each command reads the state it needs and acts through the services: `runner` takes
a comment's commands (`/retest`, `/merge`, `/hold`, `/status`…), `deploys` the ones that
deploy and roll back, for comments and for the check run's deploy button alike.
"""
