"""No network for the converter: a seccomp filter that makes socket(AF_INET / AF_INET6) fail with EACCES.

Installed in the child between fork and exec (``preexec``), after PR_SET_NO_NEW_PRIVS, so LibreOffice and its
UNO client (and anything they start: a filter is inherited and cannot be removed) can still talk over
AF_UNIX (the UNO pipe) but can open no connection anywhere: a linked picture or template that slipped past
inspection fails to load instead of being fetched. io_uring, which can make sockets without socket(2), is
refused too, and so are x32 system calls on x86_64 (another numbering of the same calls).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import socket
import struct

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_KILL_PROCESS = 0x80000000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (args[0]'s low word at 16,
# little-endian on both architectures).
_NR_OFFSET, _ARCH_OFFSET, _ARG0_OFFSET = 0, 4, 16
# BPF opcodes: load a word, jump if equal / greater or equal to a constant, return.
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_X32_SYSCALL_BIT = 0x40000000


class _Arch:
    def __init__(self, audit: int, socket_nr: int, io_uring_setup_nr: int, x32: bool) -> None:
        self.audit, self.socket_nr, self.io_uring_setup_nr, self.x32 = audit, socket_nr, io_uring_setup_nr, x32


_ARCHES = {
    "x86_64": _Arch(0xC000003E, 41, 425, x32=True),
    "aarch64": _Arch(0xC00000B7, 198, 425, x32=False),
}


class SandboxUnavailable(RuntimeError):
    """This machine's architecture or kernel cannot take the filter: the converter must not run."""


def _instruction(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes:
    """The BPF program (struct sock_filter[]) for `machine` (default: this one)."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        raise SandboxUnavailable(f"no seccomp filter for {machine or platform.machine()}")
    deny = _SECCOMP_RET_ERRNO | errno.EACCES
    program = [
        _instruction(_LD_W_ABS, 0, 0, _ARCH_OFFSET),
        _instruction(_JEQ_K, 1, 0, arch.audit),  # another ABI (e.g. 32-bit calls) could dodge the numbers below
        _instruction(_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS),
        _instruction(_LD_W_ABS, 0, 0, _NR_OFFSET),
    ]
    if arch.x32:
        program += [_instruction(_JGE_K, 0, 1, _X32_SYSCALL_BIT), _instruction(_RET_K, 0, 0, deny)]
    program += [
        _instruction(_JEQ_K, 0, 1, arch.io_uring_setup_nr),
        _instruction(_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.EPERM),
        _instruction(_JEQ_K, 1, 0, arch.socket_nr),
        _instruction(_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        _instruction(_LD_W_ABS, 0, 0, _ARG0_OFFSET),
        _instruction(_JEQ_K, 2, 0, socket.AF_INET),
        _instruction(_JEQ_K, 1, 0, socket.AF_INET6),
        _instruction(_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        _instruction(_RET_K, 0, 0, deny),
    ]
    return b"".join(program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_no_network_filter() -> None:
    """Install the filter on the calling process (and so on everything it starts); OSError if refused."""
    program = filter_program()
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS refused")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")


def preexec() -> None:
    """Run in the converter child before exec: a process group of its own (killed whole when it hangs),
    then the filter."""
    os.setsid()
    install_no_network_filter()
