"""The Lambda-like worker: `python -m filegate_local.runtime <code-dir> <handler>`.

One process is one warm execution environment of one function. It imports the handler once (the init
phase), then serves invocations one at a time over a private protocol stream: the parent writes one
frame per invocation on our stdin and reads one frame back from our stdout. The protocol file
descriptors are duplicated away first, and fd 1 is pointed at stderr, so whatever the handler prints
(Powertools JSON logs, print()) goes to the function's log and can never corrupt the protocol.

A frame is a 16-byte header (two big-endian lengths), a JSON message, then an optional "body beside".
Length-prefixed, so a multi-MB event is read in a few large reads, never scanned for a delimiter. The
body beside is the long `body` string of the request's `event` or the reply's `result` (a base64 body,
typically), sent as raw ASCII when its JSON form is just itself in quotes: the JSON then holds `null`
in its place and the reader puts the string back, so the receiver gets exactly what plain JSON would
have given it, without escaping and parsing megabytes of base64 on both sides.

Kept free of third-party imports: this is the cold path of every function.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import IO, Any

from filegate_local.lifeline import exit_with_parent

# Lambda caps a synchronous response payload at 6 MB.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
# The frame header: the length of the JSON message, then of the body beside it (0: none).
FRAME_HEADER = struct.Struct(">QQ")
# Shorter bodies stay in the JSON: below this, escaping and parsing them costs nothing worth saving.
BESIDE_MIN_CHARS = 64 * 1024
# The ASCII bytes json.dumps escapes (controls, DEL, quote, backslash); non-ASCII is ruled out first.
_JSON_ESCAPED = bytes(range(0x20)) + b'"\\\x7f'
# Largest single read/write on the protocol pipes.
_IO_CHUNK = 1 << 20


class LambdaContext:
    """The `context` argument Lambda passes to Python handlers."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.invoked_function_arn = env.get("FILEGATE_LOCAL_FUNCTION_ARN", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext(aws_request_id={self.aws_request_id!r}, function_name={self.function_name!r})"


def _user_traceback(exc: BaseException) -> Any:
    """The exception's traceback without this module's frames (Lambda shows only the function's)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def error_payload(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """An error in the shape Lambda's Python runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_tb(_user_traceback(exc)),
    }


def _log(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _log_exception(exc: BaseException, error_type: str | None = None) -> None:
    # The Python runtime logs an unhandled exception as "[ERROR] Type: message" and the traceback.
    kind = error_type or type(exc).__name__
    lines = traceback.format_exception(type(exc), exc, _user_traceback(exc))
    _log(f"[ERROR] {kind}: {exc}\n" + "".join(lines).rstrip())


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, function_name = handler.replace("/", ".").rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InitError(f"Unable to import module '{module_name}': {exc}", "Runtime.ImportModuleError") from exc
    except SyntaxError as exc:
        raise InitError(f"Syntax error in module '{module_name}': {exc}", "Runtime.UserCodeSyntaxError") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise InitError(f"Handler '{function_name}' missing on module '{module_name}'", "Runtime.HandlerNotFound")
    return function  # type: ignore[no-any-return]


class InitError(Exception):
    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _take_protocol_streams() -> tuple[IO[bytes], IO[bytes]]:
    """Keep private copies of stdin/stdout for the protocol; stdout (fd 1) then goes to stderr."""
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    return proto_in, proto_out


def plain_json_string(value: Any) -> bytes | None:
    """A long string whose JSON form is itself in quotes (ASCII, nothing to escape), as bytes; else None."""
    if not isinstance(value, str) or len(value) < BESIDE_MIN_CHARS or not value.isascii():
        return None
    data = value.encode("ascii")
    if len(data.translate(None, _JSON_ESCAPED)) != len(data):
        return None
    return data


def dumps_body_beside(value: Any) -> tuple[bytes, bytes]:
    """The JSON of `value` and its body beside (b"" if none): a dict's long plain `body` becomes null."""
    beside = plain_json_string(value.get("body")) if isinstance(value, dict) else None
    if beside is not None:
        value = {**value, "body": None}  # same key order: the reader sets the key back in place
    return json.dumps(value, separators=(",", ":")).encode(), beside or b""


def json_size(payload: bytes, beside: bytes | bytearray) -> int:
    """The size the message would have as plain JSON (`null` replaced by the quoted body)."""
    return len(payload) + len(beside) - 2 if beside else len(payload)


def put_body_back(value: Any, beside: bytes | bytearray) -> None:
    if beside:
        value["body"] = beside.decode("ascii")


def encode_frame(payload: bytes, beside: bytes = b"") -> bytes:
    return FRAME_HEADER.pack(len(payload), len(beside)) + payload + beside


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a (blocking) fd; os.write on a pipe may write less than asked."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:_IO_CHUNK])
        view = view[written:]


def read_exactly(stream: IO[bytes], size: int) -> bytearray | None:
    """`size` bytes from an unbuffered stream in large reads, or None at end of file (even mid-frame)."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = stream.readinto(view[got : got + _IO_CHUNK])  # type: ignore[attr-defined]
        if not count:
            return None
        got += count
    return buffer


def read_frame(stream: IO[bytes]) -> tuple[bytearray, bytearray] | None:
    """The next frame's JSON and body beside, or None when the parent closed the stream."""
    header = read_exactly(stream, FRAME_HEADER.size)
    if header is None:
        return None
    size, beside_size = FRAME_HEADER.unpack(header)
    payload = read_exactly(stream, size)
    beside = read_exactly(stream, beside_size)
    if payload is None or beside is None:
        return None
    return payload, beside


def _send(stream: IO[bytes], message: dict[str, Any]) -> None:
    write_all(stream.fileno(), _encode(message))


def _trace_id() -> str:
    now = int(time.time())
    return f"Root=1-{now:08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


def serve(code_dir: str, handler_name: str) -> int:
    proto_in, proto_out = _take_protocol_streams()
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    os.chdir(code_dir)  # Lambda runs with the task root as the working directory
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    init_started = time.monotonic()
    try:
        handler = load_handler(handler_name)
    except InitError as exc:
        _log_exception(exc, exc.error_type)
        _send(proto_out, {"type": "init_error", "error": error_payload(exc, exc.error_type)})
        return 1
    except BaseException as exc:
        _log_exception(exc)
        _send(proto_out, {"type": "init_error", "error": error_payload(exc)})
        return 1
    init_ms = (time.monotonic() - init_started) * 1000
    _send(proto_out, {"type": "ready", "init_ms": round(init_ms, 2)})

    first = True
    while True:
        frame = read_frame(proto_in)
        if frame is None:  # the parent closed the pipe: go like a reclaimed environment, without the
            sys.stdout.flush()  # interpreter's teardown of every module (a second or more on a busy machine)
            sys.stderr.flush()
            os._exit(0)
        request = json.loads(frame[0])
        put_body_back(request["event"], frame[1])
        request_id = str(request["request_id"])
        context = LambdaContext(request_id, int(request["deadline_ms"]))
        context.invoked_function_arn = str(request.get("invoked_function_arn", context.invoked_function_arn))
        os.environ["_X_AMZN_TRACE_ID"] = _trace_id()
        version = context.function_version
        _log(f"START RequestId: {request_id} Version: {version}")
        started = time.monotonic()
        reply, fatal = _invoke(handler, request["event"], context)
        duration = (time.monotonic() - started) * 1000
        _log(f"END RequestId: {request_id}")
        init = f"\tInit Duration: {init_ms:.2f} ms" if first else ""
        _log(
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {int(duration) + 1} ms\tMemory Size: {memory} MB{init}"
        )
        first = False
        write_all(proto_out.fileno(), reply)
        if fatal:
            return 1


def _encode(message: dict[str, Any]) -> bytes:
    return encode_frame(json.dumps(message, separators=(",", ":")).encode())


def _invoke(handler: Callable[[Any, Any], Any], event: Any, context: LambdaContext) -> tuple[bytes, bool]:
    """Run one invocation; returns the protocol frame to send and whether the process must end."""
    request_id = context.aws_request_id
    try:
        result = handler(event, context)
    except BaseException as exc:
        _log_exception(exc)
        fatal = isinstance(exc, SystemExit | KeyboardInterrupt)
        return _encode({"type": "error", "request_id": request_id, "error": error_payload(exc)}), fatal
    try:
        result_json, beside = dumps_body_beside(result)
    except (TypeError, ValueError) as exc:
        error = TypeError(f"Unable to marshal response: {exc}")
        _log_exception(error, "Runtime.MarshalError")
        payload = error_payload(error, "Runtime.MarshalError")
        return _encode({"type": "error", "request_id": request_id, "error": payload}), False
    reply = b'{"type":"result","request_id":' + json.dumps(request_id).encode() + b',"result":' + result_json + b"}"
    size = json_size(reply, beside)
    if size > MAX_RESPONSE_BYTES:
        too_large = _PayloadTooLarge(size)
        _log_exception(too_large, "Function.ResponseSizeTooLarge")
        payload = error_payload(too_large, "Function.ResponseSizeTooLarge")
        return _encode({"type": "error", "request_id": request_id, "error": payload}), False
    return encode_frame(reply, beside), False


class _PayloadTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(
            f"Response payload size ({size} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
        )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python -m filegate_local.runtime <code-dir> <module.handler>\n")
        return 2
    exit_with_parent()
    return serve(args[0], args[1])


if __name__ == "__main__":
    sys.exit(main())
