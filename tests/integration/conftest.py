"""Integration fixtures: one local stack (template.yaml on moto) for the whole session, over real HTTP.

- `stack`: the running LocalStack: `.url` (gateway base URL), `.moto_url`, `.state` (stack.json),
  `.state_dir`, `.log_dir`, `.log_file(FunctionLogicalId)`, `.invocations(FunctionLogicalId)`.
  It listens on free ports (never 3000/4566, so a running `make dev` does not collide) with a temporary
  state directory, and is stopped at the end of the session.
- `http`: an httpx client bound to the stack's URL, with timeouts (absolute URLs work too).

While the session runs, this process talks to moto only: AWS_ENDPOINT_URL and friends point at the stack
and the credentials are dummies, so no test can reach a real AWS account by accident.
"""

from tests.helpers.local_stack import session_stack_fixtures

stack, http = session_stack_fixtures()
