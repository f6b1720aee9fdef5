"""The Lambda-like worker, `python -m filegate_local.runtime <module.handler> <fd>` in the code directory: one
warm execution environment of one function. It imports the handler once (the init phase), then serves one
invocation at a time over the multiprocessing connection `fd`: [request id, deadline in epoch ms, event] as
JSON in, the reply out. Its stdout and stderr are the log. No third-party imports: the cold path of every function.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from multiprocessing.connection import Connection

from filegate_local.lifeline import exit_with_parent

MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's cap on a synchronous response payload


class LambdaContext:
    """The `context` argument Lambda passes to Python handlers."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.aws_request_id, self._deadline_ms = request_id, deadline_ms
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.invoked_function_arn = os.environ["FILEGATE_LOCAL_FUNCTION_ARN"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def failure(kind: str, exc: BaseException, error_type: str | None = None) -> bytes:
    """A `kind` reply with the error in Lambda's shape, logged as Lambda's Python runtime does: "[ERROR] Type: ..."."""
    error_type = error_type or type(exc).__name__
    print(f"[ERROR] {error_type}: {exc}\n" + "".join(traceback.format_exception(exc)).rstrip())
    error = {"errorMessage": str(exc), "errorType": error_type, "stackTrace": traceback.format_tb(exc.__traceback__)}
    return json.dumps({"type": kind, "error": error}).encode()


def serve(handler_name: str, connection: Connection) -> None:
    kind = "Runtime.ImportModuleError"
    module_name, _, function_name = handler_name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        kind = "Runtime.HandlerNotFound"
        handler = getattr(module, function_name)
    except BaseException as exc:
        known = isinstance(exc, ImportError | AttributeError)
        kind = "Runtime.UserCodeSyntaxError" if isinstance(exc, SyntaxError) else kind if known else type(exc).__name__
        connection.send_bytes(failure("init_error", exc, kind))
        sys.exit(1)
    connection.send_bytes(b'{"type":"ready"}')
    while True:
        try:
            request_id, deadline_ms, event = json.loads(connection.recv_bytes())
        except EOFError:  # the pool closed the connection: go at once, without the interpreter's teardown of
            os._exit(0)  # every module (a second or more on a busy machine); stdout and stderr are unbuffered
        print(f"START RequestId: {request_id} Version: $LATEST")
        context, started = LambdaContext(request_id, deadline_ms), time.monotonic()
        try:  # an unserializable result is the handler's TypeError
            result = handler(event, context)
            reply = json.dumps({"type": "ok", "result": result}, separators=(",", ":")).encode()
        except BaseException as exc:
            reply = failure("error", exc)
        if len(reply) > MAX_RESPONSE_BYTES:
            size = f"({len(reply)} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
            reply = failure("error", ValueError(f"Response payload size {size}"), "Function.ResponseSizeTooLarge")
        duration = (time.monotonic() - started) * 1000  # tests/bench reads REPORT's Duration
        print(f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration:.2f} ms")
        connection.send_bytes(reply)


if __name__ == "__main__":
    exit_with_parent()
    serve(sys.argv[1], Connection(int(sys.argv[2])))
