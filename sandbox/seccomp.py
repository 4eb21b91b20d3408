"""A small seccomp filter: syscalls no program needs, and socket families outside the network
namespace's reach.

The filter is classic BPF, built here by hand (no libseccomp needed) and handed to bubblewrap
(`--seccomp FD`), so it covers the warm parent and every run. A denied syscall fails with
EPERM, as in Docker's default profile. Only x86_64 is described; elsewhere no filter is used.

Socket families are an allow-list: the network namespace isolates AF_UNIX, AF_INET and AF_INET6
(loopback only), but not every family; AF_VSOCK, for one, reaches the host's hypervisor through
`/dev/vsock` from any namespace. Every other family fails with EAFNOSUPPORT, as on a kernel
built without it, so runtimes that probe (glibc's netlink queries, for one) carry on.
"""

from __future__ import annotations

import errno
import platform
import socket
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
SOCKET_CALLS_X86_64 = {"socket": 41, "socketpair": 53}  # both take the family as their first argument
ALLOWED_SOCKET_FAMILIES = {"AF_UNIX": socket.AF_UNIX, "AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6}

_LD_W_ABS, _JEQ_K, _JGE_K, _JA, _RET_K = 0x20, 0x15, 0x35, 0x05, 0x06
_RET_ALLOW, _RET_ERRNO, _RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
_OFFSET_NR, _OFFSET_ARCH, _OFFSET_ARG0 = 0, 4, 16  # struct seccomp_data; arg0's low word (little-endian)


def _assemble(program: list[tuple]) -> bytes:
    """Instructions are (code, k, jump_if_true, jump_if_false) with label names as jump targets,
    or ("label", name); jumps are resolved to the relative offsets BPF wants (forward only)."""
    labels: dict[str, int] = {}
    index = 0
    for insn in program:
        if insn[0] == "label":
            labels[insn[1]] = index
        else:
            index += 1
    out, index = [], 0
    for insn in program:
        if insn[0] == "label":
            continue
        code, k, jt, jf = insn

        def offset(target: str | None) -> int:
            return 0 if target is None else labels[target] - index - 1

        if code == _JA:
            out.append(struct.pack("HBBI", code, 0, 0, offset(jt)))
        else:
            out.append(struct.pack("HBBI", code, offset(jt), offset(jf), k))
        index += 1
    return b"".join(out)


def filter_program() -> bytes | None:
    """The compiled filter for this machine, or None where none is described."""
    if platform.machine() != "x86_64":
        return None
    program: list[tuple] = [
        (_LD_W_ABS, _OFFSET_ARCH, None, None),
        (_JEQ_K, AUDIT_ARCH_X86_64, None, "kill"),
        (_LD_W_ABS, _OFFSET_NR, None, None),
        (_JGE_K, X32_SYSCALL_BIT, "deny", None),  # the x32 ABI would be a way around the list
    ]
    program += [(_JEQ_K, number, "deny", None) for number in sorted(DENIED_X86_64.values())]
    program += [(_JEQ_K, number, "socket_family", None) for number in sorted(SOCKET_CALLS_X86_64.values())]
    program += [
        (_JA, 0, "allow", None),
        ("label", "socket_family"),
        (_LD_W_ABS, _OFFSET_ARG0, None, None),
    ]
    program += [(_JEQ_K, family, "allow", None) for family in sorted(ALLOWED_SOCKET_FAMILIES.values())]
    program += [
        (_RET_K, _RET_ERRNO | errno.EAFNOSUPPORT, None, None),
        ("label", "allow"),
        (_RET_K, _RET_ALLOW, None, None),
        ("label", "deny"),
        (_RET_K, _RET_ERRNO | errno.EPERM, None, None),
        ("label", "kill"),
        (_RET_K, _RET_KILL_PROCESS, None, None),
    ]
    return _assemble(program)
