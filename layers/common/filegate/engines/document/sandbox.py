"""The converter's sandbox: no network (seccomp), and where the kernel has Landlock, no files but its own.
Standard library only: the converter (uno_converter.py, under another Python) loads this file by its path.

Entered by the converter process itself before it starts LibreOffice (``enter``), after PR_SET_NO_NEW_PRIVS,
so LibreOffice and its UNO client (and anything they start: both are inherited and cannot be removed):
- can still talk over AF_UNIX (the UNO pipe) but open no connection anywhere: socket(AF_INET / AF_INET6)
  fails with EACCES, so a linked picture or template that slipped past inspection fails to load instead of
  being fetched. io_uring, which can make sockets without socket(2), is refused too, and so are x32 system
  calls on x86_64 (another numbering of the same calls);
- with Landlock (Linux 5.13+; skipped where the kernel has none): read and run the system's files (/usr,
  /etc, …) and the converter's own script, and read and write only its scratch directory: another
  conversion's files, the rest of /tmp and every home directory are out of reach.
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


# Landlock (include/uapi/linux/landlock.h): the same system call numbers on x86_64 and aarch64.
_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 2, 1 << 3
_FS_ABI1 = (1 << 13) - 1  # execute, write, read, read_dir, remove and make of every kind
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14  # ABI 2 and 3: moving files between directories, truncating
_READ_ONLY = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
# What LibreOffice and Python read (Debian links parts of LibreOffice's installation into /var), and /dev,
# which they also write (/dev/null, shared memory). Not /proc: neither needs it, and there every process's
# environment (the worker's credentials) would be readable.
SYSTEM_PATHS = (
    *("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/sys"),
    *("/var/cache/fontconfig", "/var/lib/libreoffice", "/var/spool/libreoffice"),
)
_READ_WRITE_SYSTEM_PATHS = ("/dev",)
# LibreOffice makes its UNO pipe's socket in /tmp whatever TMPDIR says (osl): there it may make a socket and
# nothing else (connecting to one needs no right; the engine removes it when the process is gone).
_FS_MAKE_SOCK = 1 << 9
PIPE_DIRECTORY = "/tmp"  # noqa: S108 - where LibreOffice puts it, not a file of ours


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where it has none."""
    libc = ctypes.CDLL(None, use_errno=True)
    version = int(libc.syscall(_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION))
    return max(version, 0)


def restrict_files(readable: tuple[str, ...], writable: tuple[str, ...]) -> bool:
    """Confine the calling process to `readable` (read, run) and `writable` (everything) and the system's
    files; False (nothing done) where the kernel has no Landlock."""
    abi = landlock_abi()
    if abi == 0:
        return False
    handled = _FS_ABI1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    libc = ctypes.CDLL(None, use_errno=True)
    attr = struct.pack("=Q", handled)
    ruleset = int(libc.syscall(_LANDLOCK_CREATE_RULESET, attr, len(attr), 0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock ruleset refused")
    try:
        rules = [(p, _READ_ONLY) for p in (*SYSTEM_PATHS, *readable)]
        rules += [(p, handled) for p in (*_READ_WRITE_SYSTEM_PATHS, *writable)]
        rules.append((PIPE_DIRECTORY, _FS_MAKE_SOCK))
        for path, access in rules:
            try:
                directory = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # not on this system
            try:
                rule = struct.pack("=Qi", access & handled, directory)
                if libc.syscall(_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH, rule, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock rule for {path} refused")
            finally:
                os.close(directory)
        if libc.syscall(_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock refused")
    finally:
        os.close(ruleset)
    return True


def enter(readable: tuple[str, ...] = (), writable: tuple[str, ...] = ()) -> None:
    """Sandbox the calling process and all it will start: no new privileges, its files (`readable`,
    `writable`: Landlock), no network (the filter). The converter calls it on itself, first thing (a
    preexec_fn would run between fork and exec, which is not safe in a process with threads)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS refused")
    restrict_files(readable, writable)
    install_no_network_filter()
