"""The local stack's own tests (infra/filegate_local), on template.yaml and its real functions; those over
HTTP use the integration tests' session stack."""

from tests.integration.conftest import http, stack  # noqa: F401 (fixtures, found by name)
