"""Integration fixtures: one local stack (template.yaml on moto) for the whole session, over real HTTP.

- `stack`: the running LocalStack: `.url` (gateway base URL), `.moto_url`, `.state` (stack.json),
  `.state_dir`, `.log_dir`, `.log_file(FunctionLogicalId)`, `.invocations(FunctionLogicalId)`.
  It listens on free ports (never 3000/4566, so a running `make dev` does not collide) with a temporary
  state directory, and is stopped at the end of the session.
- `http`: an httpx client bound to the stack's URL, with timeouts (absolute URLs work too).

While the session runs, this process talks to moto only: AWS_ENDPOINT_URL and friends point at the stack
and the credentials are dummies, so no test can reach a real AWS account by accident.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from filegate_local import LocalStack
from tests.helpers.local_stack import HTTP_TIMEOUT, ROOT, aws_pointed_at, running_stack, start_local_stack

__all__ = ["ROOT", "start_local_stack"]  # tests/local imports them from here


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory.mktemp("local-stack"), workers_per_function=4) as local, aws_pointed_at(local):
        yield local


@pytest.fixture
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
        yield client
