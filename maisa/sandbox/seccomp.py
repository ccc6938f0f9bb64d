"""A seccomp filter for the bwrap sandbox: system calls step code never needs fail with EPERM.

Docker applies its default seccomp profile; bwrap applies none unless given
one, so the kernel's rarely used, often exploited interfaces (keyrings, bpf,
io_uring, userfaultfd, perf events, ptrace, mounts and namespaces, modules,
kexec) would stay reachable. This builds the classic BPF program bwrap's
`--seccomp FD` loads, with no libseccomp: a deny list on x86_64, where
anything that is not a native x86_64 call (x32, i386) is refused outright.
On other architectures `program()` returns None and only the other layers apply.
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_RET_K = 0x06
OFFSET_NR, OFFSET_ARCH = 0, 4

# x86_64 numbers of the calls refused (arch/x86/entry/syscalls/syscall_64.tbl).
DENIED_X86_64 = {
    "ptrace": 101,
    "personality": 135,
    "pivot_root": 155,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "move_pages": 279,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program() -> bytes | None:
    """The filter as `struct sock_filter[]` bytes, or None where no filter is defined."""
    if platform.machine() != "x86_64":
        return None
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    numbers = sorted(DENIED_X86_64.values())
    code = [
        _insn(BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
        _insn(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),  # i386 or other ABI: no
        _insn(BPF_LD_W_ABS, 0, 0, OFFSET_NR),
        _insn(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        _insn(BPF_RET_K, 0, 0, deny),  # x32 calls alias the native ones: refuse them all
    ]
    for index, number in enumerate(numbers):
        # On a match, jump to the final "deny"; else fall through to the next comparison.
        remaining = len(numbers) - index - 1
        code.append(_insn(BPF_JEQ_K, remaining + 1, 0, number))
    code.append(_insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    code.append(_insn(BPF_RET_K, 0, 0, deny))
    return b"".join(code)
