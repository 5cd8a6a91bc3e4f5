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
- epoll instances (`epoll_create`, `epoll_create1`): each may watch millions of descriptors, and the kernel
  allows each user one budget of watches across the whole host (fs.epoll.max_user_watches, 5.5 million
  on a 24 GB machine, about 1 GB of kernel memory): 2,746 epolls over 2,000 eventfds took all of it in 6 s,
  and every other program of the grader's user, the grader's reading of classmates' workers among them,
  then failed to watch a descriptor (ENOSPC). The worker's own `selectors.DefaultSelector` (asyncio's
  event loop) is `PollSelector`, which keeps nothing in the kernel;
- System V shared memory (`shmget`), only where the grader cannot count it: a segment filled and
  detached is held by no process, and only a process with CAP_SYS_ADMIN can enter the sandbox's IPC
  namespace to list it (reference.grading.sandbox), so for a grader that is not root (as advised) 1,520 MB
  sat there past a 1,024 MB limit. Where the grader can count it, or with `--gpu` (CUDA's runtime may
  use it), it is allowed;
- `memfd_create`: the supervisor counts a memfd that a process holds or maps, but one sent over a unix
  socket (SCM_RIGHTS) and closed is held by the socket's queue alone: 1,520 MB of them sat there past a
  1,024 MB limit. Refused with ENOSYS, as by a kernel without it (asmjit, in PyTorch, then falls back to
  /dev/shm, which counts whole); files of /dev/shm in flight count there too;
- BPF maps and programs (`bpf`): most kernels refuse them to unprivileged users
  (kernel.unprivileged_bpf_disabled), but where a host allows them a map of any size is kernel memory
  that no process has resident;
- io_uring (`io_uring_setup`, `_enter`, `_register`): completions never read held 2.2 GB of kernel
  memory past a 1 GB limit in 6 s; `memfd_secret`: its pages are in no count the supervisor reads
  (2.2 GB past 1 GB); POSIX message queues (`mq_open`): the per-user quota is the host user's;
- sockets other than Unix, IPv4 and IPv6 ones (refused with EAFNOSUPPORT, as by a kernel without
  that family): 223 netlink sockets sending to themselves queued 1.76 GB past 1 GB, and AF_VSOCK is
  not bound to the sandbox's network namespace;
- record locks (fcntl's `F_SETLK`, `F_SETLKW` and their open-file-description twins, which `lockf`
  uses): one descriptor may hold a lock on every other byte of its file, each lock about 190 bytes of
  kernel memory that no process has resident (a million took 188 MB in 6 s, with 13 MB resident), and
  the kernel bounds them by nothing; they are refused with ENOLCK ("No locks available"), as by a
  kernel out of locks. `flock` (one lock per open file, so bounded by the descriptors) still works;
- leases (fcntl's `F_SETLEASE`): a process may lease a file it owns, and every other process of the host that then
  opens it waits for the kernel's lease-break-time (45 s) unless the holder lets go. The files a sandbox reads are
  the grader's user's (the data root, the virtual environment, for a grader that is root /usr too), bound read-only
  but still leasable: a cell leased a file of the data root and a module of the environment's torch, and each open
  of them outside, by the grader and by every classmate's worker (a classmate's DataLoader, `import torch`), waited
  45 s; a lease on every file the workers open would hold them all past their time limits. Refused with EACCES, as
  the kernel refuses a lease on a file the caller does not own;
- kernel AIO contexts (`io_setup`): they take from one budget for the whole host, every user's (fs.aio-max-nr, 65,536
  events), and two contexts of a sandbox took all of it: every other program of the host, the grader's and the
  classmates' sandboxes among them, was refused one (EAGAIN) until its grading ended. Refused with ENOSYS, as by a
  kernel without AIO (glibc's POSIX aio_read uses threads, not these calls);
- ignoring SIGCHLD (`rt_sigaction(SIGCHLD, ...)` with a new action): a child's CPU time reaches its parent's count
  (/proc/PID/stat's cutime, which the supervisor reads) only when the parent waits for it, and the kernel reaps the
  children of a process that ignores SIGCHLD (or sets SA_NOCLDWAIT) itself, so children that each spun for 20 ms, most
  of it between two of the supervisor's looks, used 4.7 CPU seconds in 8 s against a share of 0.25 core (2.5 s with
  its burst), cores a classmate graded beside them would otherwise get. The call returns 0 and changes nothing (SIGCHLD keeps
  the kernel's default, so an exited child waits for its parent), which keeps a caller that installs a handler
  (PyTorch's DataLoader, for its workers) running; reading the action (a NULL new action) is left alone. The filter
  binds bwrap's init too, so a submission that ptraces it cannot make it ignore SIGCHLD for the orphans it reaps;
- extended attributes (`setxattr` and its kin): on the sandbox's /dev/shm (Linux 6.6 and later) 3 GB of
  them sat in kernel memory past a 768 MB limit, on files of no size; they are refused with ENOTSUP, as
  by a file system without them (`shutil.copy2` goes on without copying them);
- `fallocate`: it reserves a file's blocks on the host's disk without writing them, 100 MB in about 3 ms, so
  between two of the supervisor's looks at the disk (every half second) one process took 6 GB of the host's
  disk against a 500 MB limit (the test's own bound: unbounded, it fills the disk, and every classmate's
  writes and the grader's records then fail). It is refused with EOPNOTSUPP, as by a file system without it:
  glibc's `posix_fallocate` (Python's `os.posix_fallocate`) then writes the blocks, as fast as any write.

Nothing a notebook needs uses them (Python's multiprocessing and PyTorch's data loaders use POSIX
semaphores, shared memory, pipes and Unix sockets, which the supervisor counts, and wait on them with
poll(2), as subprocess does; glibc's name lookup goes on without netlink), so the filter refuses them
with EPERM, or with the error named above (record locks with ENOLCK: an SQLite database, which locks
that way, cannot be written in a graded notebook).
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
           "epoll_create", "epoll_create1", "bpf", "io_uring_setup", "io_uring_enter", "io_uring_register", "memfd_secret", "mq_open")
SOCKET_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6: socket(2) with any other family is refused
NO_XATTRS = ("setxattr", "lsetxattr", "fsetxattr", "setxattrat")  # refused with ENOTSUP, as by a file system without them
NO_PREALLOCATION = ("fallocate",)  # refused with EOPNOTSUPP, as by a file system without it: posix_fallocate writes instead
UNSUPPORTED = ("memfd_create", "io_setup")  # refused with ENOSYS, as by a kernel without them: callers fall back (asmjit to /dev/shm)
RECORD_LOCKS = (6, 7, 37, 38)  # fcntl's F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW: refused with ENOLCK
LEASES = (1024,)  # fcntl's F_SETLEASE: refused with EACCES
SIGCHLD = 17  # rt_sigaction(SIGCHLD, act, ...) with act not NULL: returns 0, changing nothing (x86-64's and arm64's number)

# struct seccomp_data: int nr at offset 0, __u32 arch at offset 4, __u64 args[6] from offset 16
_NR, _ARCH, _ARG0_LOW, _ARG1_LOW, _ARG1_HIGH = 0, 4, 16, 24, 28  # the halves of args[0] and args[1] on a little-endian machine (both below are)
_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
_REFUSE = 0x00050000 | errno.EPERM  # SECCOMP_RET_ERRNO with EPERM
_NO_FAMILY = 0x00050000 | errno.EAFNOSUPPORT
_NO_LOCKS = 0x00050000 | errno.ENOLCK
_NO_LEASE = 0x00050000 | errno.EACCES
_NO_XATTRS = 0x00050000 | errno.ENOTSUP
_NO_SUCH_CALL = 0x00050000 | errno.ENOSYS
_NOTHING_DONE = 0x00050000 | 0  # SECCOMP_RET_ERRNO with 0: the call is skipped and returns 0

# machine: (its AUDIT_ARCH, {call: number}, the first number of a second ABI on the same arch, or None)
_X86_64 = {"semget": 64, "msgget": 68, "inotify_init": 253, "inotify_init1": 294, "fanotify_init": 300, "add_key": 248,
           "request_key": 249, "keyctl": 250, "epoll_create": 213, "epoll_create1": 291, "mq_open": 240, "socket": 41,
           "fcntl": 72, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "bpf": 321,
           "shmget": 29, "memfd_create": 319, "rt_sigaction": 13, "io_setup": 206, "fallocate": 285}
_AARCH64 = {"semget": 190, "msgget": 186, "inotify_init1": 26, "fanotify_init": 262, "add_key": 217, "request_key": 218,
            "keyctl": 219, "epoll_create1": 20, "mq_open": 180, "socket": 198, "fcntl": 25,
            "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "bpf": 280, "shmget": 194, "memfd_create": 279, "rt_sigaction": 134, "io_setup": 0,
            "fallocate": 47}
_BOTH = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "memfd_secret": 447,  # one table since 5.1
         "setxattrat": 463}
_MACHINES = {
    "x86_64": (0xC000003E, {**_X86_64, **_BOTH}, 0x40000000),
    "aarch64": (0xC00000B7, {**_AARCH64, **_BOTH}, None),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)  # struct sock_filter, in the machine's byte order


def _assemble(lines: list) -> bytes:
    """Classic BPF from `lines`: a str is a label; (code, k) an instruction; (code, k, label) a test that
    jumps to `label` when true and goes on to the next instruction when false."""
    where, at = {}, 0
    for line in lines:
        if isinstance(line, str):
            where[line] = at
        else:
            at += 1
    ops = []
    for line in lines:
        if isinstance(line, str):
            continue
        code, k, *target = line
        jt = where[target[0]] - (len(ops) + 1) if target else 0
        ops.append(_op(code, k, jt=jt))
    return b"".join(ops)


def program(machine: str | None = None, sysv_shm: bool = True) -> bytes | None:
    """The filter for `machine` (platform.machine() by default), or None where it is not known. `sysv_shm`
    False: `shmget` is refused too, for a grader that cannot count System V segments (see the module)."""
    found = _MACHINES.get(machine or platform.machine())
    if found is None:
        return None
    arch, numbers, second_abi = found
    refused = REFUSED if sysv_shm else REFUSED + ("shmget",)
    lines: list = [(_LD_W_ABS, _ARCH), (_JEQ_K, arch, "own abi"), (_RET_K, _REFUSE), "own abi", (_LD_W_ABS, _NR)]
    if second_abi is not None:  # x32: the same calls under other numbers
        lines.append((_JGE_K, second_abi, "refuse"))
    lines += [(_JEQ_K, numbers[name], "refuse") for name in refused if name in numbers]
    lines += [(_JEQ_K, numbers[name], "no xattrs") for name in NO_XATTRS + NO_PREALLOCATION]  # both ENOTSUP (EOPNOTSUPP on Linux)
    lines += [(_JEQ_K, numbers[name], "no such call") for name in UNSUPPORTED]
    lines += [(_JEQ_K, numbers["socket"], "socket"), (_JEQ_K, numbers["fcntl"], "fcntl"),
              (_JEQ_K, numbers["rt_sigaction"], "sigaction"), (_RET_K, _ALLOW), "refuse", (_RET_K, _REFUSE)]
    # rt_sigaction(sig, act, oldact, ...): the kernel reads sig as an int (the low half); act is a pointer (both halves)
    lines += ["sigaction", (_LD_W_ABS, _ARG0_LOW), (_JEQ_K, SIGCHLD, "sigchld"), (_RET_K, _ALLOW),
              "sigchld", (_LD_W_ABS, _ARG1_LOW), (_JEQ_K, 0, "act low zero"), (_RET_K, _NOTHING_DONE),
              "act low zero", (_LD_W_ABS, _ARG1_HIGH), (_JEQ_K, 0, "only read"), (_RET_K, _NOTHING_DONE),
              "only read", (_RET_K, _ALLOW)]
    lines += ["socket", (_LD_W_ABS, _ARG0_LOW)]  # socket(family, ...): its family
    lines += [(_JEQ_K, family, "a family allowed") for family in SOCKET_FAMILIES]
    lines += [(_RET_K, _NO_FAMILY), "a family allowed", (_RET_K, _ALLOW)]
    lines += ["fcntl", (_LD_W_ABS, _ARG1_LOW)]  # fcntl(fd, cmd, ...): its command
    lines += [(_JEQ_K, command, "no locks") for command in RECORD_LOCKS]
    lines += [(_JEQ_K, command, "no lease") for command in LEASES]
    lines += [(_RET_K, _ALLOW), "no locks", (_RET_K, _NO_LOCKS), "no lease", (_RET_K, _NO_LEASE), "no xattrs", (_RET_K, _NO_XATTRS),
              "no such call", (_RET_K, _NO_SUCH_CALL)]
    return _assemble(lines)
