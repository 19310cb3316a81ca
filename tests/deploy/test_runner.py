"""A deploy's ticket crosses the Celery broker as JSON and comes back the same."""

from __future__ import annotations

import json

from bot.core.config import Environment, Step
from bot.deploy.runner import DeployTicket, ticket_from_json, ticket_to_json


def test_a_deploy_ticket_survives_json() -> None:
    ticket = DeployTicket(
        deployment_id=7,
        clone_url="https://github.com/octo/hello.git",
        sha="a" * 40,
        environment=Environment(
            name="production",
            steps=(Step("migrate", "make migrate"), Step("ship", "make ship")),
            url="https://example.com",
            secrets=("PROD_KEY",),
            protected=True,
            timeout_seconds=90.0,
        ),
        env={"CI": "true", "GREENLIGHT_ENVIRONMENT": "production"},
        secrets={"PROD_KEY": "s3cret"},
        token="ghs_token",
    )
    assert ticket_from_json(json.loads(json.dumps(ticket_to_json(ticket)))) == ticket


def test_a_ticket_never_shows_its_secrets_in_its_repr() -> None:
    ticket = DeployTicket(
        1, "/srv/repo", "b" * 40, Environment("staging", ()), {}, {"KEY": "s3cret"}, "ghs_x"
    )
    assert "s3cret" not in repr(ticket)
    assert "ghs_x" not in repr(ticket)
