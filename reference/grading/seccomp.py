"""The system calls a sandboxed submission may not make: a seccomp filter for bubblewrap's `--seccomp`.

The supervisor (reference.grading.sandbox) watches what a submission holds by looking at it from
outside: processes, resident memory, memfds, /dev/shm, sockets, files in scratch. Some kernel
objects it cannot see there, and a submission used them to hold memory or a per-user count of the
whole host unwatched:

- System V semaphore sets and message queues (`semget`, `msgget`): 800 semaphore arrays held 2 GB of
  kernel memory against a 1 GB limit, and the sandbox's IPC namespace allows 32,000 of them (64 GB);
- inotify watches (`inotify_init`, `inotify_init1`): six instances took the 192,530 watches the
  kernel allows each user, so every other program of the grader's user (root, for a grader that is
  root) could watch no file until grading ended; fanotify groups (`fanotify_init`) the same way (128
  per user, all taken: the host's root could start none).

Nothing a notebook needs uses them (Python's multiprocessing and PyTorch's data loaders use POSIX
semaphores and shared memory, which the supervisor counts), so the filter refuses them with EPERM.
Every system call of another ABI than the machine's own (32-bit `int 0x80` on x86-64, x32) is
refused too, since the filter could not name those calls. `program()` is the filter for this
machine, as the compiled classic BPF that `seccomp_export_bpf` writes and bwrap reads; None on an
architecture it does not know (the sandbox then runs without it, its other limits unchanged).
"""

from __future__ import annotations

import errno
import platform
import struct

__all__ = ["REFUSED", "program"]

REFUSED = ("semget", "msgget", "inotify_init", "inotify_init1", "fanotify_init")

# struct seccomp_data: int nr at offset 0, __u32 arch at offset 4
_NR, _ARCH = 0, 4
_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
_REFUSE = 0x00050000 | errno.EPERM  # SECCOMP_RET_ERRNO with EPERM

# machine: (its AUDIT_ARCH, {call: number}, the first number of a second ABI on the same arch, or None)
_MACHINES = {
    "x86_64": (0xC000003E, {"semget": 64, "msgget": 68, "inotify_init": 253, "inotify_init1": 294, "fanotify_init": 300},
               0x40000000),
    "aarch64": (0xC00000B7, {"semget": 190, "msgget": 186, "inotify_init1": 26, "fanotify_init": 262}, None),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)  # struct sock_filter, in the machine's byte order


def program(machine: str | None = None) -> bytes | None:
    """The filter for `machine` (platform.machine() by default), or None where it is not known."""
    found = _MACHINES.get(machine or platform.machine())
    if found is None:
        return None
    arch, numbers, second_abi = found
    calls = [numbers[name] for name in REFUSED if name in numbers]
    tail = len(calls) + 2  # the calls' tests, then ALLOW and REFUSE
    ops = [_op(_LD_W_ABS, _ARCH), _op(_JEQ_K, arch, jt=1, jf=0), _op(_RET_K, _REFUSE), _op(_LD_W_ABS, _NR)]
    if second_abi is not None:  # x32: the same calls under other numbers
        ops.append(_op(_JGE_K, second_abi, jt=tail - 1, jf=0))
    for left, number in enumerate(calls):
        ops.append(_op(_JEQ_K, number, jt=len(calls) - left, jf=0))  # to REFUSE, past the tests left and ALLOW
    ops += [_op(_RET_K, _ALLOW), _op(_RET_K, _REFUSE)]
    return b"".join(ops)
