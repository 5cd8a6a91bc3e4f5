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
  per user, all taken: the host's root could start none);
- the kernel's keyrings (`add_key`, `request_key`, `keyctl`): bubblewrap's new session keeps the
  grader's session keyring, so a cell read a key of the instructor's login into its own output (and
  could write keys there); keys take from the grader's user's quota on the whole host;
- io_uring (`io_uring_setup`, `_enter`, `_register`): completions never read held 2.2 GB of kernel
  memory past a 1 GB limit in 6 s; `memfd_secret`: its pages are in no count the supervisor reads
  (2.2 GB past 1 GB); POSIX message queues (`mq_open`): the per-user quota is the host user's;
- sockets other than Unix, IPv4 and IPv6 ones (refused with EAFNOSUPPORT, as by a kernel without
  that family): 223 netlink sockets sending to themselves queued 1.76 GB past 1 GB, and AF_VSOCK is
  not bound to the sandbox's network namespace.

Nothing a notebook needs uses them (Python's multiprocessing and PyTorch's data loaders use POSIX
semaphores, shared memory, pipes and Unix sockets, which the supervisor counts; glibc's name lookup
goes on without netlink), so the filter refuses them with EPERM.
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

REFUSED = ("semget", "msgget", "inotify_init", "inotify_init1", "fanotify_init", "add_key", "request_key", "keyctl",
           "io_uring_setup", "io_uring_enter", "io_uring_register", "memfd_secret", "mq_open")
SOCKET_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6: socket(2) with any other family is refused

# struct seccomp_data: int nr at offset 0, __u32 arch at offset 4, __u64 args[6] from offset 16
_NR, _ARCH, _ARG0_LOW = 0, 4, 16  # the low half of args[0] on a little-endian machine (both below are)
_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
_REFUSE = 0x00050000 | errno.EPERM  # SECCOMP_RET_ERRNO with EPERM
_NO_FAMILY = 0x00050000 | errno.EAFNOSUPPORT

# machine: (its AUDIT_ARCH, {call: number}, the first number of a second ABI on the same arch, or None)
# machine: (its AUDIT_ARCH, {call: number}, the first number of a second ABI on the same arch, or None)
_X86_64 = {"semget": 64, "msgget": 68, "inotify_init": 253, "inotify_init1": 294, "fanotify_init": 300, "add_key": 248,
           "request_key": 249, "keyctl": 250, "mq_open": 240, "socket": 41}
_AARCH64 = {"semget": 190, "msgget": 186, "inotify_init1": 26, "fanotify_init": 262, "add_key": 217, "request_key": 218,
            "keyctl": 219, "mq_open": 180, "socket": 198}
_BOTH = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "memfd_secret": 447}  # one table since 5.1
_MACHINES = {
    "x86_64": (0xC000003E, {**_X86_64, **_BOTH}, 0x40000000),
    "aarch64": (0xC00000B7, {**_AARCH64, **_BOTH}, None),
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
    tail = len(calls) + 3  # the calls' tests, the test for socket, then ALLOW and REFUSE
    ops = [_op(_LD_W_ABS, _ARCH), _op(_JEQ_K, arch, jt=1, jf=0), _op(_RET_K, _REFUSE), _op(_LD_W_ABS, _NR)]
    if second_abi is not None:  # x32: the same calls under other numbers
        ops.append(_op(_JGE_K, second_abi, jt=tail - 1, jf=0))
    for left, number in enumerate(calls):
        ops.append(_op(_JEQ_K, number, jt=len(calls) - left + 1, jf=0))  # to REFUSE, past the tests left and ALLOW
    ops += [_op(_JEQ_K, numbers["socket"], jt=2, jf=0), _op(_RET_K, _ALLOW), _op(_RET_K, _REFUSE)]
    ops.append(_op(_LD_W_ABS, _ARG0_LOW))  # socket(family, ...): its family
    for left, family in enumerate(SOCKET_FAMILIES):
        ops.append(_op(_JEQ_K, family, jt=len(SOCKET_FAMILIES) - left, jf=0))  # to the ALLOW past NO_FAMILY
    ops += [_op(_RET_K, _NO_FAMILY), _op(_RET_K, _ALLOW)]
    return b"".join(ops)
