"""A small seccomp filter: syscalls no program needs, that widen the kernel's attack surface.

The filter is classic BPF, built here by hand (no libseccomp needed) and handed to bubblewrap
(`--seccomp FD`), so it covers the warm parent and every run. A denied syscall fails with
EPERM, as in Docker's default profile. Only x86_64 is described; elsewhere no filter is used.
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# x86_64 numbers. Kernel keyring, BPF, perf, userfaultfd and io_uring are common exploit
# surfaces; module, kexec, swap, reboot and accounting calls are administrative; ptrace and
# process_vm_* read other processes; handle-based opens bypass path checks.
DENIED_X86_64 = {
    "ptrace": 101, "acct": 163, "swapon": 167, "swapoff": 168, "reboot": 169, "init_module": 175,
    "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212, "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "perf_event_open": 298, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427,
}

_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_RET_ALLOW, _RET_ERRNO, _RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def filter_program() -> bytes | None:
    """The compiled filter for this machine, or None where none is described."""
    if platform.machine() != "x86_64":
        return None
    numbers = sorted(DENIED_X86_64.values())
    n = len(numbers)
    allow, deny, kill = 4 + n, 5 + n, 6 + n  # indexes of the three return instructions
    program = [
        _insn(_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(_JEQ_K, 0, kill - 2, AUDIT_ARCH_X86_64),
        _insn(_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        _insn(_JGE_K, deny - 4, 0, X32_SYSCALL_BIT),  # the x32 ABI would be a way around the list
    ]
    for i, number in enumerate(numbers):
        here = 4 + i
        program.append(_insn(_JEQ_K, deny - here - 1, 0, number))
    program += [
        _insn(_RET_K, 0, 0, _RET_ALLOW),
        _insn(_RET_K, 0, 0, _RET_ERRNO | errno.EPERM),
        _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),
    ]
    return b"".join(program)
