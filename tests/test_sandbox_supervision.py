"""The sandbox's supervisor (reference/grading/sandbox.py) holds its limits against what a
submission leaves behind, and fails closed.

Each attack runs in a real, sandboxed worker: a tiny course (`attack`, a check module without
checks) whose notebook is the attack, run by `session_for` as the grader runs every submission.
The attacks are bounded, so that CI stays safe even if the supervisor failed: 1.5 GB of memory
against a 1,024 MB limit, 4,000 entries (16 MB) against a 10 MB disk limit. Trees deeper than
Python's recursion limit, paths past the kernel's 4,096 bytes and folders chmod-ed to 000 are built
too, to show that the disk walk and `remove_tree` cope. Threads by the thousand (the process
limit counted processes only, and the kernel counts none for root), descriptors up to the host's
hard limit, the host user's 128 inotify instances, page tables (no resident size counts
them), and the kernel's real-time and nice limits
inherited from the host are held too. Two holes were a grader's only when it is
not root (a folder locked with chmod 000, a user namespace of the sandbox's own with a tmpfs in
it): run as root, those two tests pass on the old code too.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from conftest import attack_course
import reference.grading.sandbox as sandbox
from reference.grading.runner import session_for
from reference.grading.sandbox import Limits, Worker

from sandbox_support import needs_sandbox

MB = 2**20


@pytest.fixture(autouse=True)
def leave_no_deep_tree(tmp_path: Path):
    """Remove what each test built, had it failed too: pytest's own clean-up of old tmp folders
    recurses, and a tree deeper than Python's recursion limit would crash every later session."""
    yield
    for command in (["chmod", "-R", "u+rwx", str(tmp_path)], ["rm", "-rf", str(tmp_path)]):
        subprocess.run(command, capture_output=True)


@pytest.fixture
def course(tmp_path: Path, monkeypatch) -> Path:
    """A course with the assignment `attack` (no checks), its scratch folders made in tmp/."""
    return attack_course(tmp_path, monkeypatch)


def run_attack(course: Path, source: str, limits: Limits, during=None):
    """Run `source` as a submission's only cell: (why its worker was stopped, the cell's output
    and error, what `during(worker)` returned while the worker was still up)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(source))]
    nbformat.write(nb, course / "attack.ipynb")
    with session_for(course / "attack.ipynb", "attack", course, limits=limits) as session:
        seen = during(session.worker) if during is not None else None
        cell = session.cells_output.get("0", {})
    text = "".join(out.get("text", "") for out in cell.get("outputs", []))
    error = cell.get("error") or {}
    return session.stopped, text + f"{error.get('ename', '')}: {error.get('evalue', '')}", seen


def left_in_tmp(course: Path) -> list[str]:
    return sorted(os.listdir(course.parent / "tmp"))


# ---------------------------------------------------------------------------------------------
# The disk limit: every entry counts, any depth, any path length
# ---------------------------------------------------------------------------------------------


@needs_sandbox
def test_a_tree_deeper_than_python_recurses_keeps_the_limits_and_is_removed(course: Path):
    stopped, said, _ = run_attack(course, """
        import os, subprocess, sys, time
        base = os.getcwd()
        os.mkdir("deep"); os.chdir("deep")
        for _ in range(1200):  # deeper than Python's recursion limit
            os.mkdir("d"); os.chdir("d")
        os.chdir(base)
        time.sleep(1.5)  # the supervisor's disk walk meets the tree
        hold = "import time; b = b'x' * (500 * 2**20); time.sleep(8)"  # each under RLIMIT_DATA, 1.5 GB together
        children = [subprocess.Popen([sys.executable, "-c", hold]) for _ in range(3)]
        for child in children:
            child.wait()
        print("1.5 GB held unstopped")
    """, Limits(memory_mb=1024, wall_s=60))
    assert any("the memory limit" in reason for reason in stopped), (stopped, said)
    assert "RecursionError" not in " ".join(stopped) + said
    assert left_in_tmp(course) == []  # scratch, deep tree and all, and the staged reference copy


@needs_sandbox
def test_files_below_paths_past_the_kernels_limit_still_stop_the_submission(course: Path):
    stopped, said, _ = run_attack(course, """
        import os, time
        for _ in range(45):  # 45 x 101 bytes: paths past 4,096 bytes, which no path-based walk can open
            os.mkdir("x" * 100); os.chdir("x" * 100)
        for i in range(3):
            with open(f"f{i}", "wb") as fh:
                fh.write(b"x" * (60 * 2**20))
        time.sleep(3)
        print("180 MB written unstopped")
    """, Limits(disk_mb=100, wall_s=60))
    assert any("4,096-byte limit" in reason or "the disk limit" in reason for reason in stopped), (stopped, said)
    assert left_in_tmp(course) == []


@needs_sandbox
def test_a_folder_the_student_locks_still_counts_and_is_removed(course: Path):
    stopped, said, _ = run_attack(course, """
        import os, time
        os.mkdir("locked")
        for i in range(3):
            with open(f"locked/{i}", "wb") as fh:
                fh.write(b"x" * (10 * 2**20))
        os.chmod("locked", 0)  # unreadable to a grader that is not root
        time.sleep(3)
        print("30 MB behind a locked folder unstopped")
    """, Limits(disk_mb=20, wall_s=60))
    assert any("the disk limit" in reason for reason in stopped), (stopped, said)
    assert left_in_tmp(course) == []


@needs_sandbox
def test_files_removed_while_still_open_count_against_the_disk_limit(course: Path):
    """The disk walk saw only the files below scratch: 480 MB held in files removed while still open (and O_TMPFILE
    files, which never have a name) went past a 100 MB limit unstopped, and could fill the host's /tmp."""
    stopped, said, _ = run_attack(course, """
        import os, time
        held = []
        for i in range(3):
            fh = open(f"/grading/tmp/held-{i}", "wb")
            fh.write(b"x" * (10 * 2**20))
            fh.flush()
            os.unlink(f"/grading/tmp/held-{i}")
            held.append(fh)
        time.sleep(3)
        print("30 MB in removed files unstopped")
    """, Limits(disk_mb=20, wall_s=60))
    assert any("the disk limit" in reason for reason in stopped), (stopped, said)
    assert "unstopped" not in said
    assert left_in_tmp(course) == []


@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
def test_system_v_semaphores_message_queues_and_inotify_are_refused(course: Path):
    """The supervisor cannot see what they hold: 800 semaphore arrays took 2 GB of kernel memory against a 1 GB
    limit, and six inotify instances took every watch of the grader's user on the whole host. The sandbox's seccomp
    filter refuses them (EPERM); everything else runs, processes and POSIX semaphores among them."""
    stopped, said, _ = run_attack(course, """
        import ctypes, ctypes.util, multiprocessing, os
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        def tried(name, *args):
            result = getattr(libc, name)(*args)
            return f"{name}={result}/{ctypes.get_errno()}"
        print(tried("semget", 0, 32000, 0o1600), tried("msgget", 0, 0o1600), tried("inotify_init1", 0), tried("fanotify_init", 0, 0))
        lock = multiprocessing.Lock()  # a POSIX semaphore
        with lock:
            pid = os.fork()
            if pid == 0:
                os._exit(7)
            print("child", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """, Limits(wall_s=60))
    assert not stopped, stopped
    assert "semget=-1/1 msgget=-1/1 inotify_init1=-1/1 fanotify_init=-1/1" in said and "child 7" in said, said


def filter_verdict(program: bytes, fields: dict[int, int]) -> int:
    """What the classic BPF `program` returns for a system call whose struct seccomp_data holds `fields` (offset:
    32-bit value: 0 the call's number, 4 its arch, 16 args[0]'s low half, 24 and 28 args[1]'s halves); it loads words,
    compares (JEQ, JGE) and returns, all the filter uses."""
    import struct

    ops = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = ops[pc]
        if code == 0x20:  # BPF_LD | BPF_W | BPF_ABS
            acc = fields[k]
            pc += 1
        elif code in (0x15, 0x35):  # BPF_JEQ, BPF_JGE with a constant
            hit = acc == k if code == 0x15 else acc >= k
            pc += 1 + (jt if hit else jf)
        else:  # BPF_RET
            return k


def test_the_seccomp_filter_is_the_program_its_table_says():
    """Decoded, the x86-64 filter refuses another ABI, the x32 calls and each refused call, refuses socket(2) of
    every family but Unix, IPv4 and IPv6 with EAFNOSUPPORT, fallocate with EOPNOTSUPP, leases with EACCES, and allows
    the rest."""
    import errno

    from reference.grading.seccomp import program

    def run(arch: int, nr: int, family: int = 0, command: int = 0, sysv_shm: bool = True) -> int:
        return filter_verdict(program("x86_64", sysv_shm=sysv_shm), {4: arch, 0: nr, 16: family, 24: command})

    allow, refuse, no_family = 0x7FFF0000, 0x00050000 | errno.EPERM, 0x00050000 | errno.EAFNOSUPPORT
    refused = (64, 68, 253, 294, 300, 248, 249, 250, 213, 291, 321, 425, 426, 427, 447, 240)  # ... keyctl, epoll_create*, bpf, io_uring_*, memfd_secret, mq_open
    assert [run(0xC000003E, nr) for nr in refused] == [refuse] * len(refused)
    assert [run(0xC000003E, nr) for nr in (0, 1, 56, 57, 59, 29, 65, 53)] == [allow] * 8  # ... shmget, semop, socketpair
    assert [run(0xC000003E, 41, family) for family in (1, 2, 10)] == [allow] * 3  # socket: AF_UNIX, AF_INET, AF_INET6
    assert [run(0xC000003E, 41, family) for family in (16, 17, 40, 0, 3)] == [no_family] * 5  # netlink, packet, vsock...
    no_locks = 0x00050000 | errno.ENOLCK
    assert [run(0xC000003E, 72, 0, command) for command in (6, 7, 37, 38)] == [no_locks] * 4  # fcntl: record locks
    assert [run(0xC000003E, 72, 0, command) for command in (0, 1, 2, 3, 4, 5, 36, 1030)] == [allow] * 8  # ... F_GETLK, F_OFD_GETLK
    assert run(0xC000003E, 73) == allow  # flock: one lock per open file
    assert run(0xC000003E, 72, 0, 1024) == 0x00050000 | errno.EACCES  # fcntl: F_SETLEASE
    assert run(0xC000003E, 319) == 0x00050000 | errno.ENOSYS  # memfd_create, as by a kernel without it
    no_xattrs = 0x00050000 | errno.ENOTSUP
    assert [run(0xC000003E, nr) for nr in (188, 189, 190, 463)] == [no_xattrs] * 4  # setxattr and its kin
    assert [run(0xC000003E, nr) for nr in (191, 192, 193, 194)] == [allow] * 4  # getxattr, listxattr: reading
    assert run(0xC000003E, 285) == 0x00050000 | errno.EOPNOTSUPP  # fallocate, as by a file system without it
    assert run(0x40000003, 3) == refuse and run(0xC000003E, 0x40000000 + 64) == refuse  # i386, x32
    assert run(0xC000003E, 29, sysv_shm=False) == refuse and run(0xC000003E, 30, sysv_shm=False) == allow  # shmget refused, shmat (of nothing) allowed
    assert program("sparc") is None


@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
def test_kernel_objects_the_supervisor_cannot_count_are_refused(course: Path):
    """Each held memory or a count of the grader's user on the whole host where the supervisor does not look:
    io_uring completions never read (2.2 GB past a 1 GB limit), memfd_secret pages (2.2 GB), netlink sockets
    sending to themselves (1.76 GB), keys (and the grader's own session keyring, which a cell read into its
    output), POSIX message queues, 96,360 queued real-time signals (the host's root could queue none). Each
    is refused or capped; Unix and IP sockets still work."""
    stopped, said, _ = run_attack(course, """
        import ctypes, ctypes.util, os, signal, socket
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        def call(number, *args):
            result = libc.syscall(number, *args)
            return f"{result}/{ctypes.get_errno() if result == -1 else 0}"
        params = ctypes.create_string_buffer(120)
        print("io_uring_setup", call(425, 8, params), "memfd_secret", call(447, 0), "keyctl", call(250, 0, -3, 0),
              "add_key", call(248, b"user", b"k", b"v", 1, -3), "mq_open", call(240, b"q", os.O_CREAT | os.O_RDWR, 0o600, None))
        for family, name in ((16, "netlink"), (40, "vsock"), (17, "packet")):
            try:
                socket.socket(family, socket.SOCK_DGRAM)
                print(name, "made")
            except OSError as err:
                print(name, err.errno)
        a, b = socket.socketpair(); socket.socket(socket.AF_INET6).close()
        server = socket.create_server(("127.0.0.1", 0))
        socket.create_connection(server.getsockname()).sendall(b"hello")
        print("loopback", server.accept()[0].recv(5).decode())
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
        queued = 0
        while queued < 5000 and libc.sigqueue(os.getpid(), int(signal.SIGRTMIN), 0) == 0:
            queued += 1
        print("queued", queued)
    """, Limits(wall_s=60))
    assert not stopped, stopped
    eperm, nofamily = f"-1/{errno.EPERM}", errno.EAFNOSUPPORT
    assert f"io_uring_setup {eperm} memfd_secret {eperm} keyctl {eperm} add_key {eperm} mq_open {eperm}" in said, said
    assert f"netlink {nofamily}" in said and f"vsock {nofamily}" in said and f"packet {nofamily}" in said, said
    assert "loopback hello" in said, said
    queued = int(said.split("queued ")[1].split()[0])
    assert queued <= sandbox.PENDING_SIGNALS, said



@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
def test_epoll_watches_the_host_user_shares_are_not_held_and_asyncio_still_runs(course: Path):
    """The kernel gives each user one budget of epoll watches across the whole host (5.5 million here, about
    1 GB of kernel memory): 2,746 epolls over 2,000 eventfds took it all in 6 s, and then every other program
    of the grader's user, the grader's own reading of classmates' workers among them, failed with ENOSPC. The
    sandbox refuses epoll instances (this attempt stops at 100,000 watches, were any allowed); what waits on
    descriptors in a notebook still runs on poll(2): asyncio, subprocess, multiprocessing."""
    stopped, said, _ = run_attack(course, """
        import asyncio, ctypes, ctypes.util, multiprocessing, os, select, subprocess, sys
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        created = libc.syscall(291, 0)  # epoll_create1, below Python
        print("epoll_create1", f"{created}/{ctypes.get_errno() if created == -1 else 0}")
        fds, watches = [os.eventfd(0) for _ in range(1000)], 0
        try:
            while watches < 100_000:
                ep = select.epoll()
                for fd in fds:
                    ep.register(fd, select.EPOLLIN)
                    watches += 1
        except OSError as err:
            print("epoll", type(err).__name__, err.errno)
        print("watches", watches)
        async def main():
            await asyncio.sleep(0.01)
            return "ran"
        print("asyncio", asyncio.run(main()))
        print("subprocess", subprocess.run([sys.executable, "-c", "print(42)"], capture_output=True, text=True).stdout.strip())
        with multiprocessing.get_context("fork").Pool(1) as pool:
            print("pool", pool.apply(abs, (-7,)))
    """, Limits(wall_s=60))
    assert not stopped, stopped
    assert f"epoll_create1 -1/{errno.EPERM}" in said and f"epoll PermissionError {errno.EPERM}" in said, said
    assert "watches 0" in said, said
    assert "asyncio ran" in said and "subprocess 42" in said and "pool 7" in said, said



@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
def test_record_locks_that_hold_kernel_memory_unbounded_are_refused(course: Path):
    """A lock on every other byte of a file: a million took 188 MB of kernel memory in 6 s, 13 MB resident, and
    the kernel bounds them by nothing (this attempt stops at 20,000, were any allowed). fcntl's record locks,
    `lockf`'s too, are refused with ENOLCK; `flock`, one per open file, still works."""
    stopped, said, _ = run_attack(course, """
        import fcntl, os
        fd, locks = os.open("locked", os.O_RDWR | os.O_CREAT), 0
        try:
            while locks < 20_000:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 2 * locks)
                locks += 1
        except OSError as err:
            print("lockf", type(err).__name__, err.errno)
        try:
            fcntl.fcntl(fd, 37, bytes(24))  # F_OFD_SETLK, a read lock on the whole file
        except OSError as err:
            print("ofd", err.errno)
        print("locks", locks)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("flock ok")
    """, Limits(wall_s=60))
    assert not stopped, stopped
    assert f"lockf OSError {errno.ENOLCK}" in said and f"ofd {errno.ENOLCK}" in said and "locks 0" in said, said
    assert "flock ok" in said, said



@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
def test_extended_attributes_are_refused_and_copying_still_works(course: Path):
    """On the sandbox's /dev/shm (Linux 6.6 and later) extended attributes held 3 GB of kernel memory past a
    768 MB limit, on files of no size. Setting one is refused with ENOTSUP, as by a file system without them;
    reading them, and shutil.copy2 (which copies them where it can), still work."""
    stopped, said, _ = run_attack(course, """
        import errno, os, shutil
        open("/dev/shm/held", "w").close()
        for call in (lambda: os.setxattr("/dev/shm/held", "user.k", b"v" * 60000),
                     lambda: os.setxattr("/dev/shm/held", "user.k", b"v", follow_symlinks=False)):
            try:
                call()
                print("set")
            except OSError as err:
                print("refused", err.errno)
        with open("/dev/shm/held") as f:
            try:
                os.setxattr(f.fileno(), "user.k", b"v")
            except OSError as err:
                print("refused", err.errno)
        print("listed", os.listxattr("/dev/shm/held"))
        open("data.txt", "w").write("x")
        shutil.copy2("data.txt", "copy.txt")
        print("copied", open("copy.txt").read())
    """, Limits(wall_s=60))
    assert not stopped, stopped
    assert said.count(f"refused {errno.ENOTSUP}") == 3 and "set" not in said.split(), said
    assert "listed []" in said and "copied x" in said, said


@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
def test_blocks_reserved_without_writing_them_cannot_outrun_the_disk_limit(course: Path):
    """fallocate reserves 100 MB of the host's disk in about 3 ms, and the supervisor looks at the disk every half
    second: 60 files took 6 GB of the host's disk against a 500 MB limit before the sandbox was stopped (unbounded,
    the disk fills, and every classmate's writes and the grader's records fail with it). The sandbox refuses it with
    EOPNOTSUPP, as a file system without it does; os.posix_fallocate (glibc writes the blocks instead) still works.
    Here 10 files of 100 MB against a 300 MB limit: on the old code the sandbox was stopped, 1 GB taken."""
    stopped, said, _ = run_attack(course, """
        import ctypes, ctypes.util, os
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
        reserved, errors = 0, set()
        for i in range(10):
            fd = os.open(f"reserved{i}", os.O_CREAT | os.O_WRONLY, 0o644)
            if libc.fallocate(fd, 0, 0, 100 * 2**20 - 4096) == 0:
                reserved += 1
            else:
                errors.add(ctypes.get_errno())
            os.close(fd)
        print("reserved", reserved, "errors", sorted(errors), "blocks", sum(os.stat(f"reserved{i}").st_blocks for i in range(10)))
        fd = os.open("small", os.O_CREAT | os.O_WRONLY, 0o644)
        os.posix_fallocate(fd, 0, 2**20)
        print("posix_fallocate", os.fstat(fd).st_size, os.fstat(fd).st_blocks * 512 >= 2**20)
    """, Limits(wall_s=60, disk_mb=300))
    assert not stopped, stopped
    assert f"reserved 0 errors [{errno.EOPNOTSUPP}] blocks 0" in said, said
    assert f"posix_fallocate {2**20} True" in said, said


@needs_sandbox
def test_files_of_no_size_in_dev_shm_count_against_the_memory_limit(course: Path):
    """An empty file, a folder or a device node holds no page but about a KB of kernel memory: a million of them
    in the sandbox's /dev/shm took a GB past a 768 MB limit in 4 s, unseen. Each inode there now counts a KB (2 million would be 2 GB)."""
    stopped, said, _ = run_attack(course, """
        import os, time
        start, made = time.monotonic(), 0
        try:
            for i in range(2000):
                os.mkdir(f"/dev/shm/d{i}")
                for j in range(1000):
                    os.mknod(f"/dev/shm/d{i}/{j}")
                    made += 1
        except OSError as err:
            print("refused", err)
        print("unstopped", made, round(time.monotonic() - start))
    """, Limits(wall_s=120, memory_mb=1024))
    assert any("memory limit" in reason for reason in stopped), (stopped, said)
    assert "unstopped" not in said, said



@needs_sandbox
def test_connections_waiting_in_a_listeners_queue_count_against_the_memory_limit(course: Path):
    """A connection made to a loopback listener and closed by its client waits in the listener's queue with no
    descriptor and nothing queued, yet holds 4 KB of kernel memory: 188,416 of them took 751 MB past the limit,
    unseen (only queued bytes counted). Each TCP and UDP socket of the sandbox now counts IP_SOCKET_BYTES."""
    stopped, said, _ = run_attack(course, """
        import socket, time
        start, made, listeners = time.monotonic(), 0, []
        for port in range(20000, 20100):
            server = socket.socket()
            server.bind(("127.0.0.1", port))
            server.listen(4096)
            listeners.append(server)
            for _ in range(4096):
                client = socket.socket()
                client.connect(("127.0.0.1", port))
                client.close()
                made += 1
            if time.monotonic() - start > 60:
                break
        print("unstopped", made, round(time.monotonic() - start))
    """, Limits(wall_s=120, memory_mb=768))
    assert any("memory limit" in reason for reason in stopped), (stopped, said)
    assert "unstopped" not in said, said


def test_the_grader_reads_and_writes_workers_without_epoll(monkeypatch):
    """A submission that took the grader's user's epoll watches (a host without the sandbox's filter, or a
    process outside it) cannot stop the grader reading any worker's replies: the proxy waits with poll(2)."""
    import select
    import selectors

    from reference.grading import proxy

    def no_watches(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(select, "epoll", no_watches)
    monkeypatch.setattr(selectors.EpollSelector, "_selector_cls", no_watches)  # the class took select.epoll when defined
    r, w = os.pipe()
    try:
        proxy.write_frame(w, b"a reply", deadline=time.monotonic() + 5)
        assert proxy.read_frame(r, deadline=time.monotonic() + 5) == b"a reply"
    finally:
        os.close(r)
        os.close(w)


ENTRIES = {
    "folders": "os.mkdir(f'many/{i}')",
    "empty files": "open(f'many/{i}', 'w').close()",
    "links": "os.symlink('/nowhere', f'many/{i}')",
}


@needs_sandbox
@pytest.mark.parametrize("kind", ENTRIES)
def test_entries_without_data_count_against_the_disk_limit(course: Path, kind: str):
    stopped, said, _ = run_attack(course, f"""
        import os, time
        os.mkdir("many")
        for i in range(4000):  # 4,000 x 4 KiB: 16 MB against 10 MB
            {ENTRIES[kind]}
        time.sleep(2)
        print("4,000 entries unstopped")
    """, Limits(disk_mb=10, wall_s=60))
    assert any("the disk limit" in reason for reason in stopped), (stopped, said)


@needs_sandbox
def test_a_huge_tree_within_the_limit_does_not_make_the_supervisor_spin(course: Path):
    def supervisor_cpu(worker: Worker) -> float:
        ticks = 0
        for thread in worker._threads:
            with open(f"/proc/self/task/{thread.native_id}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def idle(worker: Worker) -> float:
        before = supervisor_cpu(worker)
        time.sleep(8)
        return supervisor_cpu(worker) - before

    stopped, said, cpu = run_attack(course, """
        import os
        for i in range(40000):  # 157 MB of empty files, within the 500 MB limit: every walk looks at each
            os.makedirs(f"many/{i % 40}", exist_ok=True)
            open(f"many/{i % 40}/{i}", "w").close()
        print("made")
    """, Limits(disk_mb=500, wall_s=120), during=idle)
    assert stopped == [] and "made" in said, (stopped, said)
    # it rests nine times as long as each walk takes: a tenth of a core (before: a third of one here)
    assert cpu < 1.6, f"the supervisor used {cpu:.1f} s of CPU in 8 s of an idle worker"


def test_the_disk_walk_charges_every_entry_follows_no_link_and_stops_past_the_limit(tmp_path: Path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (tree / "many").mkdir(parents=True)
    outside.mkdir()
    (outside / "big").write_bytes(b"x" * (8 * MB))
    os.symlink(outside, tree / "link")
    for i in range(3000):
        (tree / "many" / str(i)).mkdir()
    deep = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1500):  # deeper than Python's recursion limit
        os.mkdir("d", dir_fd=deep)
        deep, parent = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=deep), deep
        os.close(parent)
    os.close(deep)
    used = sandbox.disk_usage(tree, 1 << 40)
    assert 4500 * 4096 <= used < 4600 * 4096  # 4,500 entries of one block each; the 8 MB behind the link are not counted
    stopped_at = sandbox.disk_usage(tree, 2 * MB)
    assert 2 * MB < stopped_at <= 2 * MB + 4096  # stopped at the first entry past the limit


def test_remove_tree_removes_deep_long_and_locked_trees_and_follows_no_link(tmp_path: Path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    (outside / "keep").write_text("the grader's")
    os.symlink(outside, tree / "link")
    fd, locked = os.open(tree, os.O_RDONLY | os.O_DIRECTORY), []
    for level in range(1500):  # 1,500 levels of 60-byte names: 90 KB paths, deeper than Python recurses
        if level == 1400:
            os.symlink(outside, "out", dir_fd=fd)
        os.mkdir(f"{level:060d}", dir_fd=fd)
        fd, parent = os.open(f"{level:060d}", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), fd
        if level % 500 == 0:
            locked.append(parent)
        else:
            os.close(parent)
    os.close(os.open("file", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    for folder in locked + [fd]:
        os.fchmod(folder, 0)  # chmod 000, as a student may
        os.close(folder)
    assert sandbox.remove_tree(tree)
    assert not tree.exists() and (outside / "keep").read_text() == "the grader's"


# ---------------------------------------------------------------------------------------------
# The memory limit: memory that no process has resident
# ---------------------------------------------------------------------------------------------

HOLD = """
import os, time
held, chunk = [], b"x" * 2**20
try:
    for i in range(16):  # 16 x 95 MB = 1,520 MB against 1,024 MB; none of it resident in any process
        {hold}
except OSError as err:
    print("refused:", err)
time.sleep(4)
print("held", len(held) * 95, "MB for 4 s, unstopped")
"""
WRITE = "fh = open({path} + str(i), 'wb'); [fh.write(chunk) for _ in range(95)]; fh.close(); held.append(i)"
NESTED = '''
import subprocess, sys
child = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
uid, gid = os.getuid(), os.getgid()
if libc.unshare(0x10000000):  # CLONE_NEWUSER: a namespace of its own, where it may mount
    print("refused:", os.strerror(ctypes.get_errno()), "held 0 MB")
    raise SystemExit
for name, line in (("setgroups", "deny"), ("uid_map", "0 %d 1" % uid), ("gid_map", "0 %d 1" % gid)):
    try:
        fd = os.open("/proc/self/" + name, os.O_WRONLY); os.write(fd, line.encode()); os.close(fd)
    except OSError:
        pass  # root of the sandbox may not map itself: its files then cannot be made
if libc.unshare(0x00020000) or libc.mount(b"none", b"/tmp", b"tmpfs", 0, None):
    print("refused:", os.strerror(ctypes.get_errno()), "held 0 MB")
    raise SystemExit
""" + {hold!r}
done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)  # unshare refuses a threaded process
print(done.stdout, done.stderr[-300:])
'''
SYSV = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmat.restype = ctypes.c_void_p\n"
MEMORY = {
    "memfd descriptors": HOLD.format(hold="fd = os.memfd_create(f'm{i}'); [os.write(fd, chunk) for _ in range(95)]; held.append(fd)"),
    "memfd mappings": "import mmap\n" + HOLD.format(  # mapped but never touched, the descriptor closed
        hold="fd = os.memfd_create(f'm{i}'); [os.write(fd, chunk) for _ in range(95)]; "
        "held.append(mmap.mmap(fd, 95 * 2**20)); os.close(fd)"
    ),
    "/dev/shm files": HOLD.format(hold=WRITE.format(path="'/dev/shm/m'")),
    "System V segments": SYSV + HOLD.format(  # attached, filled and detached: no process maps them any more
        hold="segment = libc.shmget(0, 95 * 2**20, 0o1600)\n"  # refused where the grader cannot count them
        "        if segment < 0: raise OSError(ctypes.get_errno(), 'shmget')\n"
        "        at = libc.shmat(segment, None, 0); ctypes.memset(at, 1, 95 * 2**20); libc.shmdt(ctypes.c_void_p(at)); "
        "held.append(segment)"
    ),
    "files in / and /dev": HOLD.format(hold=WRITE.format(path="('/m' if i % 2 else '/dev/m')")),
    "a tmpfs of a nested user namespace": NESTED.format(hold=HOLD.format(hold=WRITE.format(path="'/tmp/m'"))),
}


@needs_sandbox
@pytest.mark.parametrize("where", MEMORY)
def test_memory_no_process_has_resident_counts_against_the_memory_limit(course: Path, where: str):
    bwrap_help = subprocess.run([sandbox.bwrap_available(), "--help"], capture_output=True, text=True).stdout
    if where.startswith("a tmpfs") and "--disable-userns" not in bwrap_help:
        pytest.skip("this bwrap cannot forbid user namespaces inside the sandbox (--disable-userns came in bubblewrap 0.8)")
    stopped, said, _ = run_attack(course, MEMORY[where], Limits(memory_mb=1024, wall_s=60))
    # stopped at the memory limit, or refused (read-only, no namespace) before it held anything
    assert "held 0 MB" in said or any("the memory limit" in reason for reason in stopped), (stopped, said)
    assert all("the memory limit" in reason for reason in stopped), (stopped, said)


@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
@pytest.mark.parametrize("countable", [False, True])
def test_system_v_segments_are_refused_where_the_grader_cannot_count_them(course: Path, monkeypatch, countable: bool):
    """A grader without CAP_SYS_ADMIN (not root, as advised, or root in a container that took it) cannot enter the
    sandbox's IPC namespace, where a segment filled and detached is held by no process: 1,520 MB of them sat there
    past a 1,024 MB limit, unseen. Such a grader's sandbox refuses shmget; one that can count them allows it."""
    monkeypatch.setattr(sandbox, "can_count_sysv_shm", lambda: countable)
    stopped, said, _ = run_attack(course, MEMORY["System V segments"], Limits(memory_mb=1024, wall_s=60))
    if countable:  # allowed (and, for a grader that can count them, stopped at the memory limit: the test above)
        assert "shmget" not in said, said
    else:
        assert f"refused: [Errno {errno.EPERM}] shmget" in said and "held 0 MB" in said, said
        assert not stopped, stopped



IN_FLIGHT = """
import os, socket, time
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
chunk, sent = b"x" * 2**20, 0
try:
    for i in range(16):  # 16 x 95 MB against 1,024 MB, held by b's queue alone
        {make}
        for _ in range(95):
            os.write(fd, chunk)
        socket.send_fds(a, [b"."], [fd])
        os.close(fd)
        sent += 1
except OSError as err:
    print("refused:", err)
time.sleep(4)
print("held", sent * 95, "MB for 4 s, unstopped")
"""


@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
@pytest.mark.parametrize("what", ["memfd", "/dev/shm file"])
def test_memory_in_flight_on_a_unix_socket_is_refused_or_counted(course: Path, what: str):
    """A descriptor sent over a unix socket (SCM_RIGHTS) and closed is held by the receiving socket's queue, where no
    process's descriptors or mappings show it: 1,520 MB of memfds sat there past a 1,024 MB limit, unseen. memfd_create
    is refused (ENOSYS); a /dev/shm file in flight, unlinked too, still counts, as the whole tmpfs does."""
    make = {"memfd": "fd = os.memfd_create(f'm{i}')",
            "/dev/shm file": "fd = os.open(f'/dev/shm/m{i}', os.O_RDWR | os.O_CREAT); os.unlink(f'/dev/shm/m{i}')"}[what]
    stopped, said, _ = run_attack(course, IN_FLIGHT.format(make=make), Limits(memory_mb=1024, wall_s=60))
    if what == "memfd":
        assert f"refused: [Errno {errno.ENOSYS}]" in said and "held 0 MB" in said, said
        assert not stopped, stopped
    else:
        assert any("the memory limit" in reason for reason in stopped) and "unstopped" not in said, (stopped, said)


RESIDENT_IN_CHILDREN = """
import subprocess, sys
hold = "import time; kept = b'x' * (700 * 2**20); print('holding', flush=True); time.sleep(8)"
children = [subprocess.Popen([sys.executable, "-c", hold]) for _ in range(2)]  # 1,400 MB resident, each within RLIMIT_DATA
print("codes", [child.wait() for child in children], "held 1,400 MB for 8 s, unstopped")
"""


@needs_sandbox
def test_a_slow_look_at_held_memory_does_not_hold_up_the_resident_memory_look(course: Path, monkeypatch):
    """The look at memory no process has resident reads every process's /proc/PID/maps, which the submission
    controls: processes mapping thousands of files by long paths made one look take 40 s, and the looks at
    resident memory, processes and CPU waited for it (three processes held 3 GB against a 1 GB limit for 45 s).
    Here the held-memory look is made to take 20 s: resident memory is still looked at every tenth of a second."""
    slow = Worker._held_bytes

    def held_bytes_slowly(self, pids):
        time.sleep(20)
        return slow(self, pids)

    monkeypatch.setattr(Worker, "_held_bytes", held_bytes_slowly)
    stopped, said, _ = run_attack(course, RESIDENT_IN_CHILDREN, Limits(memory_mb=1024, wall_s=60))
    assert "unstopped" not in said, said
    assert stopped and "more than 1,024 MB of memory (the memory limit)" in stopped[0], (stopped, said)


LONG_MAPPINGS = """
import mmap, os
path = "/tmp/" + "/".join(["d" * 200] * 19)  # a path of about 3,900 characters, listed in maps once per mapping
os.makedirs(path)
with open(path + "/f", "wb") as fh:
    fh.write(b"x" * 4096)
fd = os.open(path + "/f", os.O_RDONLY)
kept = [mmap.mmap(fd, 4096, prot=mmap.PROT_READ) for _ in range(600)]  # about 2.4 MB of /proc/PID/maps
print("mapped", len(kept), "unstopped")
"""


@needs_sandbox
def test_more_mappings_than_the_grader_can_read_stop_the_submission(course: Path, monkeypatch):
    """What one look at held memory reads of /proc/PID/maps is bounded (MAPS_BYTES, 64 MB, against 0.2 MB for a
    worker that imported torch): past it the submission is stopped, named, instead of holding the grader. Here
    the bound is 1 MB and a cell maps one file by a 3,900-character path 600 times."""
    monkeypatch.setattr(sandbox, "MAPS_BYTES", 1 * MB)
    stopped, said, _ = run_attack(course, LONG_MAPPINGS + "import time; time.sleep(5)\n", Limits(wall_s=60))
    assert "unstopped" not in said or stopped, said
    assert stopped and "mapped more files into memory than the grader can check (over 1 MB" in stopped[0], (stopped, said)


# ---------------------------------------------------------------------------------------------
# Failing closed
# ---------------------------------------------------------------------------------------------


@needs_sandbox
def test_a_supervisor_that_fails_stops_the_sandbox_without_a_traceback(course: Path, monkeypatch, capfd):
    def broken(self, *args):
        raise RuntimeError("an odd process table")

    monkeypatch.setattr(Worker, "_tree", broken)
    stopped, said, _ = run_attack(course, "import time\ntime.sleep(3)\nprint('ran unwatched')", Limits(wall_s=60))
    assert "ran unwatched" not in said
    assert stopped and "the grader could not check its limits (RuntimeError: an odd process table)" in stopped[0]
    assert "Traceback" not in capfd.readouterr().err


def test_odd_or_vanishing_proc_entries_are_skipped(tmp_path: Path, monkeypatch):
    proc = tmp_path / "proc"
    for pid, children in ((100, "101 x 102 -3\n"), (101, ""), (102, "")):
        (proc / str(pid) / "task" / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "task" / str(pid) / "children").write_text(children)
    (proc / "100" / "statm").write_text("12 not-a-number\n")
    (proc / "101" / "statm").write_text("")
    (proc / "102" / "statm").write_text("100 25 0 0 0 0 0\n")
    (proc / "102" / "smaps_rollup").write_text("Rss: 100 kB\nPss: lots kB\n")
    (proc / "101" / "fd").mkdir()
    os.symlink("/memfd:gone (deleted)", proc / "101" / "fd" / "3")  # its process ended: stat fails
    (proc / "102" / "maps").write_bytes(
        b"zz-yy rw-s 00000000 00:01 7 /memfd:odd (deleted)\n"
        b"1000-3000 rw-s 00000000 00:01 not-an-inode /memfd:odd (deleted)\n"
        b"1000-3000 rw-s 00000000 00:01 8 /memfd:ok (deleted)\n"
        b"short line\n"
    )
    monkeypatch.setattr(sandbox, "PROC", str(proc))
    worker = Worker.__new__(Worker)
    worker.process, worker.limits, worker.sandboxed = SimpleNamespace(pid=100), Limits(), False
    assert sorted(worker._tree(64)) == [100, 101, 102]
    assert worker._resident_bytes([100, 101, 102, 999], 1 << 40) == 25 * sandbox.PAGE
    assert worker._resident_bytes([100, 101, 102, 999], 0) == 0  # no readable proportional size
    # the one well-formed memfd mapping, by its length; and each of the 4 lines as a mapping's kernel memory
    assert worker._held_bytes([100, 101, 102, 999]) == 0x2000 + 4 * sandbox.MAPPING_BYTES


# ---------------------------------------------------------------------------------------------
# The CPU share: a submission that runs many busy processes slows itself, not its classmates
# ---------------------------------------------------------------------------------------------


BUSY = """
    import subprocess, sys, time
    busy = "import time\\nend = time.monotonic() + {seconds}\\nwhile time.monotonic() < end: pass\\nprint(time.process_time())"
    began = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", busy], stdout=subprocess.PIPE, text=True) for _ in range({n})]
    used = sum(float(p.communicate()[0]) for p in procs)
    print(f"used {{used:.3f}} wall {{time.monotonic() - began:.3f}}")
"""


BUSY_IN_SESSIONS = BUSY.replace('busy = "import time\\n', 'busy = "import os, time\\nos.setsid()\\n')  # each its own session


@needs_sandbox
@pytest.mark.parametrize("attack", [BUSY, BUSY_IN_SESSIONS], ids=["busy", "each_in_a_session_of_its_own"])
def test_busy_processes_get_no_more_than_their_cores_on_average(course: Path, attack: str):
    """Four processes that spin for 3 s of wall time: on two cores they would use up to 6 CPU
    seconds (at least 3 beside one other busy job); with cpus=0.25 the supervisor pauses the
    sandbox so that together they use at most a quarter core over those seconds, plus the burst
    allowed ahead (CPU_BURST_S of it). The processes' own clocks say what they got. Processes that each
    call setsid() get an equal share of the host each from the kernel's autogroup scheduling, so many
    of them took a 2-core host from a classmate graded beside them (red-team finding, with `gan-course
    autograde --jobs 2`): the supervisor still finds them all and holds them alike."""
    assert BUSY_IN_SESSIONS != BUSY and "os.setsid()" in BUSY_IN_SESSIONS
    limits = Limits(cpus=0.25, wall_s=120, check_s=60)
    stopped, text, seen = run_attack(course, attack.format(seconds=3, n=4), limits, during=lambda worker: worker.paused_s)
    assert not stopped, stopped
    used, wall = (float(x) for x in text.split()[1::2][:2])
    assert used <= 0.25 * wall + 0.25 * sandbox.CPU_BURST_S + 0.3, (used, wall)
    assert seen > 1.0, f"the sandbox was paused only {seen:.2f} s"


def test_the_cpu_share_signals_only_the_processes_it_saw(tmp_path):
    """SIGSTOP and SIGCONT go to the pids of the last look: a pid the kernel has given to another process since (a
    classmate's worker, the grader) must not be stopped. The start time recorded with each pid says who it was."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        worker = SimpleNamespace(_started={})
        sandbox.Worker._cpu_times(worker, [child.pid])
        assert worker._started[child.pid] == sandbox._start_time(child.pid) != b""
        worker._started[child.pid] = b"1"  # recorded for another process that had this pid
        sandbox.Worker._signal(worker, [child.pid], signal.SIGSTOP)
        assert not _becomes(child.pid, stopped=True)
        sandbox.Worker._cpu_times(worker, [child.pid])
        sandbox.Worker._signal(worker, [child.pid], signal.SIGSTOP)
        assert _becomes(child.pid, stopped=True)
        sandbox.Worker._signal(worker, [child.pid], signal.SIGCONT)
        assert _becomes(child.pid, stopped=False)
    finally:
        child.kill()
        child.wait()


def _becomes(pid: int, stopped: bool, wait: float = 0.5) -> bool:
    """Whether the process is (or within `wait` seconds becomes) stopped, "T" in /proc/PID/stat, or running, as
    asked: a signal takes a moment to land."""
    end = time.monotonic() + wait
    while (Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] == b"T") != stopped:
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def test_graded_together_each_sandbox_gets_its_share_of_the_host():
    """With --jobs N and no --cpus (nor c.GanCourseGrading.cpus), each sandbox may use the host's usable cores over
    N on average, never more than the default: 2 sandboxes of 2 cores each on a 2-core host let one submission
    starve the other's timed checks (an honest a4 scored 7/10 instead of 10/10 beside 56 busy processes).
    tests/test_autograde_command.py shows the command passing the share to the graders."""
    from reference.grading import command

    assert command.shared_cpus(2.0, 1, cores=2) == 2.0 and command.shared_cpus(2.0, 2, cores=2) == 1.0
    assert command.shared_cpus(2.0, 4, cores=2) == 0.5 and command.shared_cpus(2.0, 2, cores=16) == 2.0


@needs_sandbox
def test_a_submission_within_its_cores_is_never_paused(course: Path):
    """One busy process against cpus=2: the share never pauses it (honest work is not slowed)."""
    stopped, text, seen = run_attack(course, BUSY.format(seconds=2, n=1), Limits(cpus=2.0, wall_s=120), during=lambda worker: worker.paused_s)
    assert not stopped, stopped
    used, wall = (float(x) for x in text.split()[1::2][:2])
    assert seen == 0.0 and used > 0.5, (seen, used, wall)


def test_the_cpu_share_counts_children_once(monkeypatch):
    """The share's arithmetic on a made-up process table: a child seen alive and then waited for by
    its parent is counted once; a child too short to be seen is counted when its parent waits."""
    worker = SimpleNamespace(limits=Limits(cpus=1.0), _cpu_seen={}, _cpu_credit=2.0, _cpu_at=0.0, _paused_until=None, _pause_s=0.0,
                             paused_s=0.0, signals=[])
    worker._signal = lambda pids, sig: worker.signals.append((tuple(pids), sig))
    clock = iter([1.0, 2.0, 3.0])
    monkeypatch.setattr(sandbox.time, "monotonic", lambda: next(clock))
    tables = iter([
        {1: (0.5, 0.0), 2: (0.5, 0.0)},  # parent and child, 1 s used in the first second
        {1: (0.6, 1.2)},  # the child ended at 1.2 s (0.7 s more) and was waited for; 0.1 s more of the parent
        {1: (0.6, 1.5)},  # a child nobody saw ran 0.3 s and was waited for
    ])
    worker._cpu_times = lambda pids: next(tables)
    share = sandbox.Worker._share_cpu
    share(worker, [1, 2])
    assert worker._cpu_credit == pytest.approx(1.0)  # 2 (burst) + 1 s x 1 core - 1 s used, capped at 2
    share(worker, [1])
    assert worker._cpu_credit == pytest.approx(min(2.0, 1.0 + 1.0) - 0.1 - (1.2 - 0.5))  # 0.7 more of the child
    share(worker, [1])
    assert worker._cpu_credit == pytest.approx(min(2.0, 1.2 + 1.0) - 0.3)
    assert worker.signals == []


@needs_sandbox
def test_a_submission_stopped_by_its_time_limit_while_paused_is_told_why(course: Path):
    """Paused for its CPU use, a submission runs out of time sooner: the reason says so."""
    stopped, _, _ = run_attack(course, BUSY.format(seconds=60, n=4), Limits(cpus=0.25, wall_s=8))
    assert len(stopped) == 1 and "wall-time limit" in stopped[0], stopped
    assert "for using more than 0.25 CPU cores at once (the CPU limit): use fewer threads or processes" in stopped[0], stopped


def test_a_process_the_share_could_not_read_once_is_not_charged_again(monkeypatch):
    """A live process whose /proc/PID/stat could not be read at one look is neither counted as ended
    nor, at the next look, as a new process that used all its CPU time at once (a long pause)."""
    worker = SimpleNamespace(limits=Limits(cpus=1.0), _cpu_seen={}, _cpu_credit=2.0, _cpu_at=0.0, _paused_until=None, _pause_s=0.0,
                             paused_s=0.0, signals=[])
    worker._signal = lambda pids, sig: worker.signals.append(sig)
    clock = iter([1.0, 2.0, 3.0])
    monkeypatch.setattr(sandbox.time, "monotonic", lambda: next(clock))
    tables = iter([{1: (30.0, 0.0)}, {}, {1: (30.5, 0.0)}])  # the worker: 30 s of imports, then unreadable once
    worker._cpu_times = lambda pids: next(tables)
    sandbox.Worker._share_cpu(worker, [1])
    worker._cpu_credit, worker._paused_until, worker.signals = 2.0, None, []  # the first look's pause is not the point
    sandbox.Worker._share_cpu(worker, [1])
    sandbox.Worker._share_cpu(worker, [1])
    assert worker._cpu_credit == pytest.approx(2.0 - 0.5) and worker.signals == [], (worker._cpu_credit, worker.signals)


# ---------------------------------------------------------------------------------------------
# Threads and descriptors: kernel resources no process has resident
# ---------------------------------------------------------------------------------------------

THREADS = """
    import threading
    threading.stack_size(65536)  # small stacks: RLIMIT_DATA would stop 8 MB ones at a few hundred
    release = threading.Event()
    started = 0
    try:
        for _ in range(3000):
            threading.Thread(target=release.wait, daemon=True).start()
            started += 1
    except RuntimeError:
        print("refused after", started)
    release.wait(20)
    print("still running with", started)
"""


@needs_sandbox
def test_threads_count_against_the_process_limit(course: Path):
    """The kernel's RLIMIT_NPROC counts threads as processes, but not for a grader that is root: there
    a submission started thousands of threads in one process (the supervisor counted processes), and
    every thread takes a PID of the host's (32,768 on many) and kernel memory no process has resident.
    The supervisor now counts threads too; a grader that is not root sees the kernel refuse them first."""
    stopped, said, _ = run_attack(course, THREADS, Limits(wall_s=60))
    if "refused after" in said:  # a grader that is not root: the kernel refused a thread, and the rest may run on
        assert int(said.split("refused after")[1].split()[0]) <= 64, said
    else:  # a root grader: the supervisor stopped the submission before it finished
        assert "still running" not in said, said
        assert stopped and "more than 64 processes and threads together (the process limit" in stopped[0], (stopped, said)


DESCRIPTORS = """
    import os, resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    try:
        for _ in range(50_000):
            held.append(os.eventfd(0))
    except OSError:
        pass
    print("held", len(held), "hard", hard)
"""


@needs_sandbox
def test_open_descriptors_are_bounded_per_process(course: Path):
    """Every descriptor holds kernel memory that no process has resident (an eventfd, an epoll or a
    timerfd about half a KB): with the host's hard limit (often 1,048,576) 64 processes could hold
    tens of GB of it past the memory limit. Each process now gets at most OPEN_FILES."""
    stopped, said, _ = run_attack(course, DESCRIPTORS, Limits(wall_s=60))
    held, hard = int(said.split("held")[1].split()[0]), int(said.split("hard")[1].split()[0])
    assert hard <= sandbox.OPEN_FILES and held <= sandbox.OPEN_FILES, said
    assert held >= 1000 and not stopped, (stopped, said)  # honest code keeps the usual 1,024


PRIVILEGED = """
    import ctypes, os, time
    libc = ctypes.CDLL(None, use_errno=True)

    def attempt(name, call):
        try:
            call()
            print(name, "allowed")
        except OSError as err:
            print(name, "refused", err.errno)

    def mount():
        if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) != 0:
            raise OSError(ctypes.get_errno(), "mount")

    attempt("clock", lambda: time.clock_settime(time.CLOCK_REALTIME, time.time() + 3600))
    attempt("priority", lambda: os.nice(-5))
    attempt("real-time", lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1)))
    attempt("device", lambda: os.mknod("mem", 0o600 | 0o020000, os.makedev(1, 1)))
    attempt("mount", mount)
    import resource
    print("real-time limit", resource.getrlimit(resource.RLIMIT_RTPRIO), "nice limit", resource.getrlimit(resource.RLIMIT_NICE))
"""


@needs_sandbox
def test_the_sandbox_can_change_neither_the_clock_nor_its_priority(course: Path):
    """The host's clock (every classmate's timestamps), a priority above its neighbours, real-time
    scheduling (a SCHED_FIFO loop starves its core, the supervisor's thread among them), a device node
    (/dev/mem), a mount: each is refused (no capabilities), and the worker's real-time and nice
    limits are 0 whatever the host grants (limits.conf's rtprio, for audio, would allow SCHED_FIFO)."""
    stopped, said, _ = run_attack(course, PRIVILEGED, Limits(wall_s=60))
    assert said.count("refused") == 5 and "allowed" not in said, said
    assert "real-time limit (0, 0) nice limit (0, 0)" in said, said
    assert not stopped, stopped


def test_each_worker_process_gets_the_kernels_limits(monkeypatch):
    """What `_limit_process` sets in the worker before it starts (bwrap, then Python, inherit it):
    a host's hard limit on descriptors may be 1,048,576 and its real-time priority above 0, neither
    of which a grader that is not root can raise to show it in a sandbox, so the calls are recorded."""
    import resource

    calls = {}
    monkeypatch.setattr(resource, "setrlimit", lambda which, values: calls.__setitem__(which, values))
    host = {resource.RLIMIT_NOFILE: (1_048_576,) * 2, resource.RLIMIT_RTPRIO: (99, 99), resource.RLIMIT_NICE: (99, 99)}
    # the others unlimited, as on most hosts: a grader that is not root keeps a lower hard limit where the host set one
    monkeypatch.setattr(resource, "getrlimit", lambda which: host.get(which, (resource.RLIM_INFINITY,) * 2))
    limits = Limits()
    Worker._limit_process(SimpleNamespace(limits=limits))
    assert calls[resource.RLIMIT_NOFILE] == (sandbox.OPEN_FILES, sandbox.OPEN_FILES)
    assert calls[resource.RLIMIT_RTPRIO] == (0, 0) and calls[resource.RLIMIT_NICE] == (0, 0)
    assert calls[resource.RLIMIT_DATA] == (limits.memory_mb * MB,) * 2 and calls[resource.RLIMIT_CORE] == (0, 0)


WATCHERS = """
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    held = [libc.inotify_init1(0) for _ in range(20)]
    print("held", sum(fd >= 0 for fd in held))
"""


@needs_sandbox
def test_inotify_instances_the_host_user_shares_are_not_held(course: Path):
    """The kernel allows each user 128 inotify instances across the whole host, and the sandbox's are
    the grader's user's (root's, for a grader that is root): a submission holding all 128 for its
    whole grading stopped every other program of that user from watching files (EMFILE). The seccomp
    filter refuses them (reference/grading/seccomp.py); on a machine it has no filter for, the sandbox is
    stopped past INOTIFY_INSTANCES. Only 20 are opened here, so CI keeps most even if not."""
    from reference.grading.seccomp import program

    def stopped_within(worker, seconds: float = 5.0):
        until = time.monotonic() + seconds
        while worker.reason is None and time.monotonic() < until:
            time.sleep(0.1)
        return worker.reason

    _, said, reason = run_attack(course, WATCHERS, Limits(wall_s=60), during=stopped_within if program() is None else None)
    if program() is not None:
        assert "held 0" in said, said
        return
    assert "held 20" in said, said
    assert reason is not None and f"more than {sandbox.INOTIFY_INSTANCES} inotify instances" in reason, reason


HELD_PIPES = """
    import os, time
    held = [os.pipe() for _ in range(1100)]  # empty: 17,600 of the user's 16,384 pages of pipe buffers
    print("held", len(held))
    time.sleep(20)  # within the wall limit: a supervisor slowed by a loaded machine is not a failure, one that never stops it is
    print("still running")
"""


@needs_sandbox
def test_pipe_buffers_the_host_user_shares_are_not_held(course: Path):
    """The kernel gives each user 16,384 pages of pipe buffers across the whole host (fs.pipe-user-pages-soft), and the
    sandbox's pipes are the grader's user's: while a submission held 1,100 empty pipes, every new pipe of that user
    without privileges, each classmate's sandbox among them, held 8 KB instead of 64 KB (and where an administrator
    sets fs.pipe-user-pages-hard, could not be made). The sandbox is stopped past PIPES, named."""
    stopped, said, _ = run_attack(course, HELD_PIPES, Limits(wall_s=60))
    assert "still running" not in said, said
    assert any(f"more than {sandbox.PIPES} pipes" in reason for reason in stopped), (stopped, said)


PAGE_TABLES = """
    import mmap, time
    size = 512 * 2**30  # address space only: read-only, so neither RLIMIT_DATA nor the resident size counts it
    view = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000, prot=mmap.PROT_READ)  # MAP_NORESERVE
    total = sum(view[offset] for offset in range(0, size, 2 * 2**20))  # one page table page per 2 MB read
    with open("/proc/self/status") as fh:
        print([line.split()[1] for line in fh if line.startswith(("VmPTE", "VmRSS"))])
    time.sleep(30)  # within the wall limit: a supervisor slowed by a loaded machine is not a failure, one that never stops it is
    print("still running")
"""


@needs_sandbox
def test_page_tables_count_against_the_memory_limit(course: Path):
    """A read-only mapping of 512 GB read once every 2 MB holds 1 GB of page tables in the kernel:
    no resident size counts them (its pages are the shared zero page) and RLIMIT_DATA counts no
    read-only mapping, so a process could fill the host's memory with them (256 GB for the 128 TB
    of one address space). They count against the memory limit now; the test stays within 1 GB."""
    stopped, said, _ = run_attack(course, PAGE_TABLES, Limits(memory_mb=1024, wall_s=60))
    assert "still running" not in said, said
    assert stopped and "more than 1,024 MB of memory (the memory limit)" in stopped[0], (stopped, said)


# ---------------------------------------------------------------------------------------------
# The cell limit: a cell that never ends costs that cell, not the submission's wall time
# ---------------------------------------------------------------------------------------------


def run_cells(course: Path, sources: list[str], limits: Limits) -> tuple[list[str], dict]:
    """Run `sources` as a submission's cells: (why its worker was stopped, {cell index: its record})."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(source)) for source in sources]
    nbformat.write(nb, course / "attack.ipynb")
    with session_for(course / "attack.ipynb", "attack", course, limits=limits) as session:
        return session.stopped, session.cells_output


@needs_sandbox
def test_a_cell_that_never_ends_is_interrupted_at_the_cell_limit_and_the_next_cells_run(course: Path):
    """The notebook's training loop `while step < STEPS: for real, _ in loader:` never ends over an
    empty loader; with persistent DataLoader workers it blocks in each new epoch's wait for them. It
    held the submission to its wall-time limit and every check scored 0 for it; it is now interrupted
    at the cell limit as a kernel's interrupt would, and the checks run on what the cells defined."""
    stopped, cells = run_cells(course, ["""
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        loader = DataLoader(TensorDataset(torch.zeros(0, 3)), batch_size=4, num_workers=2, persistent_workers=True)
        step = 0
        while step < 2:
            for real, in loader:
                step += 1
    """, "print('the next cell ran')"], Limits(cell_s=2, wall_s=30))
    assert stopped == []
    error = cells["0"]["error"]
    assert error["ename"] == "CellTimeout" and "ran past the 2 s one cell may run when graded" in error["evalue"], error
    assert cells["1"]["error"] is None and cells["1"]["outputs"][0]["text"] == "the next cell ran\n"


@needs_sandbox
def test_a_cell_that_swallows_the_interrupt_ends_its_worker_at_the_cell_limit(course: Path):
    stopped, _ = run_cells(course, ["""
        import time
        while True:
            try:
                time.sleep(1)
            except BaseException:
                pass
    """], Limits(cell_s=1, wall_s=30))
    assert len(stopped) == 1 and "a cell ran past its time limit (1 s) and did not stop when interrupted" in stopped[0], stopped


UNWAITED = """
    import subprocess, sys
    helper = '''
    import os, signal, struct, time
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps each child at once: no parent waits for it
    r, w = os.pipe()
    began, used, running = time.monotonic(), 0.0, 0
    while True:
        while running < {n} and time.monotonic() < began + {seconds}:
            if os.fork() == 0:  # a child that spins for {slice} s of CPU, says how much it used, and ends
                end = time.process_time() + {slice}
                while time.process_time() < end:
                    pass
                os.write(w, struct.pack("d", time.process_time()))
                os._exit(0)
            running += 1
        if not running:
            break
        used += struct.unpack("d", os.read(r, 8))[0]
        running -= 1
        try:
            os.waitpid(-1, os.WNOHANG)  # a child left for its parent to wait for (SIGCHLD not ignored after all)
        except ChildProcessError:
            pass
    print("used %.3f wall %.3f" % (used, time.monotonic() - began))
    '''
    # a small process forks in a few milliseconds (the worker, with torch imported, takes many more)
    print(subprocess.run([sys.executable, "-S", "-c", textwrap.dedent(helper)], capture_output=True, text=True).stdout)
""".replace("import subprocess, sys", "import subprocess, sys, textwrap", 1)


@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
def test_children_that_no_process_waits_for_get_no_more_than_their_cores_on_average(course: Path):
    """A child's CPU time reaches its parent's count (/proc/PID/stat's cutime) only when the parent waits for it: with
    SIGCHLD ignored the kernel reaps each child itself, and children that each spun for 20 ms, most of it between two
    of the supervisor's looks, used 4.7 CPU seconds in 8 s against a share of 0.25 core, 2.5 s with its burst (on a
    loaded 2-core host; red-team finding). The sandbox cannot ignore SIGCHLD (the call changes nothing), so its children
    wait for a parent that counts them."""
    limits = Limits(cpus=0.25, wall_s=120, check_s=60)
    stopped, text, seen = run_attack(course, UNWAITED.format(seconds=8, n=2, slice=0.02), limits, during=lambda worker: worker.paused_s)
    assert not stopped, stopped
    used, wall = (float(x) for x in text.split()[1::2][:2])
    assert used <= 0.25 * wall + 0.25 * sandbox.CPU_BURST_S + 0.3, (used, wall, seen)


IGNORED = """
    import os, signal, time
    old = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    time.sleep(0.5)
    try:
        print("waited", os.waitpid(pid, 0)[1] >> 8)
    except ChildProcessError:
        print("reaped by the kernel")
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, as PyTorch's DataLoader installs: no error
    print("handler set")
"""


@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
def test_the_sandbox_cannot_have_the_kernel_reap_its_children(course: Path):
    """`signal.signal(SIGCHLD, SIG_IGN)` succeeds and changes nothing: the exited child waits for its parent."""
    stopped, text, _ = run_attack(course, IGNORED, Limits(wall_s=60))
    assert not stopped and "waited 7" in text and "handler set" in text, (stopped, text)


def test_the_seccomp_filter_leaves_sigchld_as_it_is():
    """Decoded, the x86-64 and arm64 filters make rt_sigaction(SIGCHLD, act) with any act a call that returns 0 and
    does nothing, whatever the high half of sig; a NULL act (reading it) and every other signal are allowed; and
    refuse io_setup as a kernel without AIO would."""
    import errno

    from reference.grading.seccomp import program

    for machine, arch, number, io_setup in (("x86_64", 0xC000003E, 13, 206), ("aarch64", 0xC00000B7, 134, 0)):
        def run(sig: int, act: int, nr: int = number) -> int:
            return filter_verdict(program(machine), {4: arch, 0: nr, 16: sig & 0xFFFFFFFF, 24: act & 0xFFFFFFFF, 28: act >> 32})

        nothing, allow = 0x00050000, 0x7FFF0000
        assert [run(17, act) for act in (0x7FFC1000, 0x7F0000000000, 1)] == [nothing] * 3, machine
        assert run(17 + (1 << 32), 0x7FFC1000) == nothing and run(17, 0) == allow, machine
        assert [run(sig, 0x7FFC1000) for sig in (2, 14, 15, 10)] == [allow] * 4, machine
        assert run(0, 0, nr=io_setup) == 0x00050000 | errno.ENOSYS, machine  # kernel AIO: the host's one budget


# ---------------------------------------------------------------------------------------------
# Descriptors in flight: one count for the grader's user on the whole host
# ---------------------------------------------------------------------------------------------

FDS_IN_FLIGHT = """
    import array, os, socket
    held = socket.socketpair()  # kept: the descriptors sent stay in flight in its queue while the worker lives
    r, w = os.pipe()
    sent = 0
    try:
        while sent < 5000:
            held[0].sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r] * 250))])
            sent += 250
    except OSError as err:
        print(err.strerror)
    print("in flight", sent)
"""
LOADER = """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    print("total", sum(float(x.sum()) for (x,) in DataLoader(TensorDataset(torch.ones(64, 3)), batch_size=8, num_workers=2)))
"""


@needs_sandbox
def test_descriptors_a_submission_keeps_in_flight_do_not_stop_a_classmates_data_loader(course: Path):
    """The kernel refuses to send a descriptor over a unix socket (ETOOMANYREFS) once the sender's user has more in flight
    than the sender's descriptor limit: one count for the grader's user on the whole host, which every sandbox shares. A
    submission that kept 4,250 descriptors in flight in a socket of its own (4,096 is each sandbox's limit) made a
    classmate's DataLoader(num_workers=2), graded beside it, fail with EOFError: its workers handed their batches over
    as descriptors (PyTorch's default sharing strategy). The worker shares tensors between processes as files of the
    sandbox's /dev/shm instead (`file_system`), which pass no descriptor."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(FDS_IN_FLIGHT))]
    nbformat.write(nb, course / "attack.ipynb")
    with session_for(course / "attack.ipynb", "attack", course, limits=Limits(wall_s=60)) as attacker:
        held = "".join(out.get("text", "") for out in attacker.cells_output["0"]["outputs"])
        assert "Too many references" in held and not attacker.stopped, (held, attacker.stopped)  # the count was reached
        stopped, text, _ = run_attack(course, LOADER, Limits(wall_s=60))
    assert not stopped and "total 192.0" in text, (stopped, text)


AIO = """
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    contexts, said = [], "none refused"
    for n in (32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8):
        while len(contexts) < 100:
            ctx = ctypes.c_ulong(0)
            if libc.syscall({io_setup}, n, ctypes.byref(ctx)) != 0:  # io_setup(nr_events, &ctx): kernel AIO
                said = os.strerror(ctypes.get_errno())
                break
            contexts.append(ctx)
    print("contexts", len(contexts), said)
"""


def _io_setup_here() -> str:
    """What io_setup(1) says in this process, the grader's (a context it makes is destroyed at once)."""
    import ctypes
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ctx = ctypes.c_ulong(0)
    if libc.syscall(206, 1, ctypes.byref(ctx)) != 0:
        return os.strerror(ctypes.get_errno())
    libc.syscall(207, ctx)  # io_destroy
    return "made"


@needs_sandbox
@pytest.mark.skipif(__import__("platform").machine() != "x86_64", reason="the attack's system call numbers are x86-64's")
def test_the_sandbox_takes_none_of_the_hosts_kernel_aio_budget(course: Path):
    """Kernel AIO contexts (io_setup) take from one budget for the whole host, every user's (fs.aio-max-nr, 65,536
    events): two contexts of a sandbox took all 65,536, and every other program of the host, the grader and the
    classmates' sandboxes among them, was refused one (EAGAIN) until its grading ended. io_setup is refused there, as
    by a kernel without AIO (ENOSYS): nothing a notebook runs uses it (POSIX aio_read is threads in glibc)."""
    stopped, text, here = run_attack(course, AIO.format(io_setup=206), Limits(wall_s=60), during=lambda worker: _io_setup_here())
    assert here == "made", f"the grader's io_setup while the sandbox lived: {here} ({text.strip()})"
    assert not stopped and "contexts 0 Function not implemented" in text, (stopped, text)


MAPPED_FILES = """
    import subprocess, sys
    helper = '''
    import ctypes, os, time
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    held = bytearray(35 * 2**20)  # and 35 MB of its own, resident: 420 MB in all, which the supervisor counts
    made = 0
    for _ in range(60000):  # below vm.max_map_count (65,530 a process)
        fd = os.open("page", os.O_RDONLY)  # a file opened for each mapping, which alone keeps it open
        if libc.mmap(None, 4096, 1, 2, fd, 0) == ctypes.c_void_p(-1).value:
            break
        os.close(fd)
        made += 1
    print(made, flush=True)
    time.sleep(6)
    '''
    open("page", "wb").write(b"x" * 4096)
    procs = [subprocess.Popen([sys.executable, "-S", "-c", textwrap.dedent(helper)], stdout=subprocess.PIPE, text=True)
             for _ in range(12)]
    print("mappings", sum(int(p.stdout.readline() or 0) for p in procs), flush=True)
    for p in procs:
        p.wait()
    print("held for 6 s, unstopped")
""".replace("import subprocess, sys", "import subprocess, sys, textwrap", 1)


@needs_sandbox
def test_files_kept_open_by_their_mappings_alone_count_against_the_memory_limit(course: Path, monkeypatch):
    """A mapping of a file is kernel memory no process has resident, and one of a file opened for it and closed keeps
    an open file of the host's table with no descriptor: 12 processes of 60,000 one-page mappings each (720,000) held
    320 MB of unreclaimable kernel memory and 720,000 of a 24 GB host's 2.47 million open files, unseen: with 35 MB
    resident each beside a worker of 350 MB, the sandbox held about 1,150 MB against a 1,024 MB limit, unstopped. Each
    mapping counts MAPPING_BYTES against the memory limit (a worker that imported torch has a few thousand). The cap
    on mappings (MAPPINGS, which stops this sooner) is lifted here, to show the memory they count."""
    monkeypatch.setattr(sandbox, "MAPPINGS", 10**9)
    stopped, said, _ = run_attack(course, MAPPED_FILES, Limits(memory_mb=1024, wall_s=90))
    assert "held for 6 s, unstopped" not in said, said
    assert len(stopped) == 1 and "memory limit" in stopped[0], (stopped, said)


MANY_MAPPED_FILES = MAPPED_FILES.replace("held = bytearray(35 * 2**20)", "held = b''").replace("range(12)", "range(3)").replace(
    "range(60000)", "range(50000)")


@needs_sandbox
def test_files_kept_open_by_their_mappings_alone_are_bounded_whatever_the_memory_limit(course: Path):
    """Counted as memory (512 bytes each), mappings of files opened for them alone and closed could still hold about 745,000 of a
    24 GB host's 2.47 million open files under the default 3 GB limit, below the 64 MB of /proc/PID/maps a look reads.
    The sandbox's processes may hold MAPPINGS (131,072) together: here 3 processes of 50,000 each, 77 MB counted, are
    stopped with the limit named."""
    assert sandbox.MAPPINGS < 150_000 and 150_000 * sandbox.MAPPING_BYTES < Limits().memory_mb * MB // 4
    stopped, said, _ = run_attack(course, MANY_MAPPED_FILES, Limits(wall_s=90))
    assert "held for 6 s, unstopped" not in said, said
    assert len(stopped) == 1 and f"more than {sandbox.MAPPINGS:,} memory mappings" in stopped[0], (stopped, said)
