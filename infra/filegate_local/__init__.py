"""filegate_local: API Gateway (REST) + Lambda + SQS event sources on moto server, driven by template.yaml.

Everything here is generic: functions, routes, authorizers, tables, buckets and queues are read from the
SAM template, so resources added to it later work locally without touching this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filegate_local.stack import LocalStack, StackConfig

__all__ = ["LocalStack", "StackConfig"]


def __getattr__(name: str) -> Any:
    # Lazy: the Lambda worker (`python -m filegate_local.runtime`) imports this package too, and must not
    # pay for (or share module state with) boto3, the gateway and the rest of the stack.
    if name in __all__:
        from filegate_local import stack

        return getattr(stack, name)
    raise AttributeError(name)
