"""filegate_local: template.yaml on moto server, with API Gateway (REST), Lambda and its event sources
emulated as far as the template uses them (filegate_local.template.SUPPORTED; README.md)."""

from typing import Any

__all__ = ["LocalStack", "StackConfig"]


def __getattr__(name: str) -> Any:
    # Lazy: the Lambda worker (`python -m filegate_local.runtime`) imports this package too, and must not
    # pay for (or share module state with) boto3, the gateway and the rest of the stack.
    if name in __all__:
        from filegate_local import stack

        return getattr(stack, name)
    raise AttributeError(name)
