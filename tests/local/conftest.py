"""The local stack's own tests (infra/filegate_local: the API Gateway, Lambda and SQS emulation), beside the
product's. Most run a stack of tests/local/fixtures/template.yaml; a few the real template's, the same
session stack the integration tests use."""

from tests.integration.conftest import http, stack  # noqa: F401 (fixtures, found by name)
