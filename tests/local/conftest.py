"""The emulator's own tests, on template.yaml and its real functions; those over HTTP share one session stack."""

from tests.helpers.local_stack import session_stack_fixtures

stack, http = session_stack_fixtures()
