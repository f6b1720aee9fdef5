"""The local stack's own tests (infra/filegate_local), on template.yaml and its real functions; those over
HTTP use a session stack of their own, as the integration tests do."""

from tests.helpers.local_stack import session_stack_fixtures

stack, http = session_stack_fixtures()
