"""The proxy between the trusted grader and the sandboxed worker that runs a submission.

Messages are length-prefixed frames; each frame is a `torch.save` of plain data, read on the
trusted side with `torch.load(weights_only=True)` only: None, bools, numbers, strings, lists,
tuples, dicts and tensors can cross, nothing that runs code when it is read. Objects that are not
plain data stay in the worker and cross as handles ({HANDLE: id, "type": "module.Class"}); the
trusted side sees them as `Handle`s, which can be called and whose attributes can be read, each
call one request to the worker.

Everything that comes back is untrusted: the worker runs the student's code, which can answer
anything. `decode` checks every value's type, so a forged reply is at worst a wrong answer; and
before torch.load, that unpickling it costs the grader about what its size does (`pickle_problem`).
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
import re
import selectors
import struct
import time
import warnings
import zipfile
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from typing import Any, Callable

import torch

from reference.grading.checks import StudentError, SubmissionLost, clean_text
from reference.grading.submission import NAMESPACE, probe_name, read_scratch_file, scratch_files

__all__ = [
    "CELLS_BUDGET", "CELL_FRAME", "Channel", "Handle", "NOT_ZIP", "ProtocolError", "RemoteSubmission", "TOO_MANY_VALUES", "cells_budget", "checked_load", "decode", "encode", "read_frame",
    "stored_zip_problem",
    "tensor_problem", "write_frame",
]

HANDLE = "__gan_course_handle__"
NAMESPACE_KEY = "__gan_course_namespace__"
MAX_FRAME = 128 * 2**20  # a reply larger than this is refused: 128 MiB
MAX_DEPTH = 24
MAX_VALUES = 2_000_000  # values (numbers, strings, tensors, containers) one reply may hold
NOT_ZIP = "not its zip format"  # stored_zip_problem's word for bytes that are no zip archive at all
MAX_RECORDS = 100_000  # records of a reply's zip archive (one per tensor storage, and a few)
MAX_OPS = 3 * MAX_VALUES + 1000  # pickle opcodes of a reply: 3 a value, as MAX_VALUES allows
TOO_MANY_VALUES = f"more than {MAX_VALUES:,} values"  # stored_zip_problem's words for a pickle of more opcodes than MAX_OPS
MAX_ENTRY = 128  # bytes of the zip directory per record, on average (torch.save's: about 62)
_HEADER = struct.Struct(">Q")
# What the replies to an "execute" request (one per cell, then "done") may hold together: the graded notebook keeps
# 20 million characters of outputs (reference.grading.runner.MAX_OUTPUTS; at most 4 bytes each in UTF-8), and the worker
# sends each cell past this budget as one short line. A forged worker sent 120 MB replies for a cell that does not exist,
# again and again: the grader decoded each (0.3 to 1 s of its CPU, 1 GB of its memory), 11 s of the grader's CPU,
# which no limit of the sandbox counts, for 2 s of the sandbox's, and it could go on until the wall limit.
CELLS_BUDGET = 96 * 2**20
CELL_FRAME = 16 * 2**10  # what each reply may hold once the budget is spent: a line saying so, an exception's name


def cells_budget(cells: int) -> int:
    """Bytes of frames the worker may send in reply to an "execute" request of `cells` cells."""
    return CELLS_BUDGET + CELL_FRAME * (cells + 1)


class ProtocolError(Exception):
    """The worker sent something that is not a well-formed reply."""


def encode(obj: Any) -> bytes:
    """`obj` (plain data) as a frame payload."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def stored_zip_problem(data: bytes, limit: int) -> str | None:
    """None when `data` is torch.save's zip format with stored (uncompressed) records of at most
    `limit` bytes in all and a pickle torch.load reads in bounded time, else what is wrong (NOT_ZIP,
    TOO_MANY_VALUES, or another phrase). torch.load also inflates compressed records, so a few
    megabytes could otherwise unpack into gigabytes in the grader; and its unpickler takes about a
    microsecond an opcode, so a checkpoint in scratch holding [None] * 100 million held the trusted
    grader for a minute and a GB, file after file (`pickle_problem`)."""
    # the directory's size first: zipfile builds an object per entry (a 128 MB directory: a minute and
    # 700 MB). Its end record is read with zipfile's own (private) reader; a Python without it skips this.
    end_record = getattr(zipfile, "_EndRecData", None)
    if end_record is not None:
        try:
            end = end_record(io.BytesIO(data))
        except (ValueError, OSError, struct.error):
            end = None
        if not end:
            return NOT_ZIP
        if end[zipfile._ECD_ENTRIES_TOTAL] > MAX_RECORDS or end[zipfile._ECD_SIZE] > MAX_RECORDS * MAX_ENTRY:
            return "compressed, or too many records"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            records = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return NOT_ZIP
    if len(records) > MAX_RECORDS or any(r.compress_type != zipfile.ZIP_STORED for r in records):
        return "compressed, or too many records"
    if sum(r.file_size for r in records) > limit:
        return f"over {limit:,} bytes unpacked"
    if len({r.filename for r in records}) < len(records):
        return "a record named twice"
    return pickle_problem(data)


def checked_load(data: bytes) -> Any:
    """torch.load(weights_only=True) of `data` that `stored_zip_problem` passed, given the archive the checks
    read and nothing else: its records, read by Python's zipfile (each one's CRC checked), written into a new
    archive. torch.load's own zip reader (miniz) and Python's can read one set of bytes as two archives: an end
    record naming a directory where Python finds none, which Python then looks for as if data had been put in
    front, read as a small stored archive by the checks and as a deflated one by torch.load (a 1 MB reply
    unpacked into a 1 GB tensor in the grader; 4.5 KB into 3 million pickle opcodes)."""
    fresh = io.BytesIO()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, zipfile.ZipFile(fresh, "w", zipfile.ZIP_STORED) as out:
            for info in archive.infolist():
                out.writestr(info.filename, archive.read(info))
    except (zipfile.BadZipFile, ValueError, OSError, KeyError, EOFError, RuntimeError, NotImplementedError) as err:
        raise pickle.UnpicklingError(f"a damaged zip archive ({type(err).__name__})") from None
    fresh.seek(0)
    return torch.load(fresh, map_location="cpu", weights_only=True)


def tensor_problem(t: torch.Tensor) -> str | None:
    """None for a dense CPU tensor that owns its elements (contiguous, its storage at least as large
    as its elements): what the worker sends. A view that repeats one stored element (expand, stride
    0) could claim 10^15 elements and make any comparison of it spin the grader's CPU for weeks; an
    empty tensor of shape (0, 3, 40000, 40000) holds nothing, but its mean over the first dimension is
    19 GB of the grader's memory, so a shape may claim no more elements, zeros apart, than a reply holds."""
    if t.is_nested or t.is_sparse or t.layout != torch.strided or t.requires_grad or t.device.type != "cpu" or t.is_quantized:
        return "a tensor the proxy does not carry (nested, sparse, quantized, not on the CPU, or with a graph)"
    if not t.is_contiguous() or t.untyped_storage().nbytes() < (t.storage_offset() + t.numel()) * t.element_size():
        return "a tensor whose elements are not all stored (a strided or expanded view)"
    if math.prod(max(size, 1) for size in t.shape) * t.element_size() > MAX_FRAME:
        return "a tensor whose shape claims more elements than a reply can hold"
    return None


def _bare(t: torch.Tensor) -> torch.Tensor:
    """`t` as a plain tensor and nothing more. torch.load makes a Parameter, a tensor with attributes
    of its own (its pickled state: `t.mean = torch.Size` made `t.mean()` answer what the worker chose,
    for every check that calls a method of the answer) or backward hooks; the worker sends none of
    them (`Worker.wire`), so any of them is a forged reply. A conjugate or negative view is read as
    the values it shows (numpy() refuses such a view)."""
    if type(t) is not torch.Tensor or t.__dict__ or t._backward_hooks:
        raise ProtocolError("a reply held a tensor with more than its elements (a subclass, attributes or hooks of its own)")
    return t.detach().resolve_conj().resolve_neg()


class _Budget:
    """How many values a reply may hold, counted as it is walked: references to one object count
    each time (a reply of 4 KB could otherwise expand into billions of values)."""

    def __init__(self) -> None:
        self.left = MAX_VALUES

    def take(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ProtocolError(f"a reply holding more than {MAX_VALUES:,} values")


MAX_INT_BITS = 64  # an honest reply's integers are counts, shapes, indices: arithmetic on a 2,000-bit one (math.prod
# of a shape of thousands of them) held the trusted grader for minutes


def _plain(obj: Any, depth: int = 0, budget: _Budget | None = None) -> Any:
    """`obj` if it holds only plain data (tuples kept), else ProtocolError."""
    budget = budget or _Budget()
    budget.take()
    if depth > MAX_DEPTH:
        raise ProtocolError("a reply nested deeper than the proxy allows")
    if isinstance(obj, int) and not isinstance(obj, bool) and obj.bit_length() > MAX_INT_BITS:
        raise ProtocolError(f"a reply held an integer of {obj.bit_length()} bits; the proxy carries integers of at most {MAX_INT_BITS}")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, torch.Tensor):
        try:
            problem = tensor_problem(obj)
        except Exception:  # noqa: BLE001 - a tensor torch.load makes but cannot describe (a forged nested one)
            problem = "a tensor the proxy cannot read"
        if problem:
            raise ProtocolError(f"a reply held {problem}")
        return _bare(obj)
    if isinstance(obj, (list, tuple)):
        items = [_plain(item, depth + 1, budget) for item in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        if not all(isinstance(key, (str, int)) and not isinstance(key, bool) for key in obj):
            raise ProtocolError("a reply held a dict with keys that are not strings or integers")
        if any(isinstance(key, int) and key.bit_length() > MAX_INT_BITS for key in obj):
            raise ProtocolError(f"a reply held a dict key of more than {MAX_INT_BITS} bits")
        return {key: _plain(value, depth + 1, budget) for key, value in obj.items()}
    raise ProtocolError(f"a reply held a {type(obj).__name__}, which the proxy does not carry")


def pickle_problem(data: bytes) -> str | None:
    """None unless a pickle of torch.save's zip `data` has more than MAX_OPS opcodes, or builds
    what costs the grader far more than its size (`_costly_build`). torch.load's weights_only
    unpickler is Python, about 3 microseconds an opcode, and a pickle of one-byte opcodes
    ([None] * n) is as long as its opcodes: a 128 MB reply held the trusted grader for about 8
    minutes (and a GB) before the value budget could refuse it. A pickle no longer than MAX_OPS
    bytes cannot have more; a longer one is counted (stopping at MAX_OPS). Bytes that are not such a
    zip are left to torch.load to refuse."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # every data.pkl: which one torch.load reads is its business
            for info in archive.infolist():
                if info.filename == "data.pkl" or info.filename.endswith("/data.pkl"):
                    pickled = archive.read(info)
                    if info.file_size > MAX_OPS and _opcodes_over(pickled, MAX_OPS):
                        return TOO_MANY_VALUES
                    if problem := _costly_build(pickled):
                        return problem
    except (zipfile.BadZipFile, ValueError, OSError, KeyError, RuntimeError, NotImplementedError):  # RuntimeError: a record
        return None  # flagged encrypted; NotImplementedError: a compression zipfile lacks (torch.load refuses both)
    return None


SMALL_INT = 2**31  # an int key within this: distinct ints, one tuple of two, cannot share a hash with many others


class _Built:
    """Anything else the unpickler makes (a tensor, a storage, a set, bytes) as `_costly_build` follows
    it: never a safe key; `size`, what a call given it may walk (what it was built from), so that one
    large object built once and passed to call after call through the memo counts at each call."""

    def __init__(self, size: int = 0) -> None:
        self.size = size


class _Dict(_Built):
    """A dict (OrderedDict, Counter) as `_costly_build` follows it: its keys were checked when set."""


def _size(value: Any) -> int:
    """What a call given `value` may walk: its length, 1 for a scalar."""
    if isinstance(value, (str, bytes, list, tuple)):
        return len(value) + 1
    return value.size + 1 if isinstance(value, _Built) else 1


# torch's rebuilds that make a view of a storage they are given (walking none of its elements)
_VIEWS = tuple(f"torch._utils._rebuild_{kind}" for kind in ("tensor", "tensor_v2", "tensor_v3", "parameter", "parameter_with_state", "qtensor"))


def _walk(args: Any, views: bool = False) -> int:
    """What a call (REDUCE, NEWOBJ) or BUILD given `args` may walk: the sizes of its arguments and of
    the tuples inside them (torch._tensor._rebuild_from_type_v2 calls a function of its own on a tuple
    of arguments), each object counted once; with `views`, a storage or tensor counts 1 (a view of it)."""
    seen: set[int] = set()

    def size(value: Any) -> int:
        if id(value) in seen:
            return 1
        seen.add(id(value))
        if isinstance(value, tuple):
            return 1 + sum(map(size, value))
        return 1 if views and isinstance(value, _Built) and not isinstance(value, _Dict) else _size(value)

    return size(args) if isinstance(args, tuple) else _size(args)


def _made_of(func: Any, args: Any) -> _Built:
    """What REDUCE or NEWOBJ of `func` on `args` makes, as `_costly_build` follows it."""
    if isinstance(func, _Global) and func.name in _DICTS:
        return _Dict()
    return _Built(_walk(args))  # a tensor made as a view: as large as its storage, for the calls that walk it later


def _makes_view(func: Any, args: Any) -> bool:
    """Whether calling `func` on `args` makes a view of a storage (rebuilding a saved tensor)."""
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        return False
    if func.name == "torch._tensor._rebuild_from_type_v2":  # (func, type, args, state): a tensor with attributes
        return bool(args) and isinstance(args[0], _Global) and args[0].name in _VIEWS
    return func.name in _VIEWS


def _storage_size(pid: Any) -> int:
    """The elements a storage's persistent id claims: ("storage", type, key, location, numel)."""
    return pid[4] if isinstance(pid, tuple) and len(pid) > 4 and isinstance(pid[4], int) else 0


class _Global:
    """A GLOBAL opcode's class or function, named as torch's unpickler names it (Python 2's
    `__builtin__ dict` is `builtins.dict`)."""

    def __init__(self, name: str) -> None:
        module, _, attr = name.partition(" ")
        if (module, attr) in NAME_MAPPING:
            module, attr = NAME_MAPPING[(module, attr)]
        else:
            module = IMPORT_MAPPING.get(module, module)
        self.name = module + "." + attr

    def allowed(self) -> bool:
        """Whether torch.load(weights_only=True) takes this global; at any other it stops, having
        built nothing after it."""
        from torch import _weights_only_unpickler as unpickler

        try:
            return self.name in unpickler._get_allowed_globals() or self.name in unpickler._get_user_allowed_globals()
        except AttributeError:  # another torch's private names: assume it takes the global, and keep checking
            return True


def _cheap_key(key: Any) -> bool:
    """Whether `key`, hashed into a dict or set, costs the grader what its size does. Ints from
    2**61 - 1 up can share one hash by the thousand (hash(n) is n mod 2**61 - 1), and a dict of n
    such keys takes n**2 / 2 comparisons to build (20,000 keys: 7 s; a million, in 13 MB: hours);
    tuples of chosen ints too, and a tuple nested through the memo, ((t, t), (t, t)), is hashed
    once per path (50 levels in 300 bytes: months). Strings are hashed with a secret seed; floats
    can share a hash only a few dozen at a time."""
    if key is None or isinstance(key, (str, bytes, bool, float, _Global)):  # a global: a dtype, one object of a few hundred
        return True
    if isinstance(key, int):
        return abs(key) < 2**61 - 1
    if isinstance(key, tuple):  # not cached: hashed item by item at each insertion
        return len(key) <= 8 and all(isinstance(k, str) for k in key) or (
            len(key) <= 2 and all(isinstance(k, str) or (isinstance(k, int) and abs(k) < SMALL_INT) for k in key))
    return False


def _costly_build(pickled: bytes) -> str | None:
    """What the weights_only unpickler would build at a cost out of proportion to the pickle's size,
    else None: a dict or set of keys chosen to share a hash (`_cheap_key`); bytearray(n), which
    fills n bytes (a 10-byte argument: 64 GB); calls given one large value from the memo again and
    again (set(a list of a million) a million times), each walking all of it. The pickle is followed as torch's unpickler reads it
    (the opcodes it takes, the same stack, marks and memo), keeping only what the keys need; a pickle
    it cannot follow is left to torch.load, which refuses it too."""
    stack: list = []
    marks: list = []
    memo: dict = {}
    work = MAX_OPS  # what calls and BUILDs may walk: an honest pickle walks each value it made about once
    unsafe = "a dict or set whose keys would cost the grader more than their size (large ints or tuples as keys)"
    try:
        for op, arg, _ in pickletools.genops(pickled):
            name = op.name
            if name == "MARK":
                marks.append(stack)
                stack = []
            elif name in ("BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE", "SHORT_BINSTRING"):
                stack.append(arg)
            elif name in ("NONE", "NEWFALSE", "NEWTRUE"):
                stack.append({"NONE": None, "NEWFALSE": False, "NEWTRUE": True}[name])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "EMPTY_DICT":
                stack.append(_Dict())
            elif name == "EMPTY_SET":
                stack.append(_Built())
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = tuple(stack[-n:])
                if len(items) != n:
                    return None
                stack[-n:] = [items]
            elif name == "TUPLE":
                items, stack = tuple(stack), marks.pop()
                stack.append(items)
            elif name == "GLOBAL":
                found = _Global(arg)
                if not found.allowed():
                    return None  # torch.load refuses the pickle here (a pickled optimizer, a numpy array)
                stack.append(found)
            elif name in ("BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif name in ("BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif name == "APPEND":
                item = stack.pop()
                if isinstance(stack[-1], list):
                    stack[-1].append(item)
            elif name == "APPENDS":
                items, stack = stack, marks.pop()
                if isinstance(stack[-1], list):
                    stack[-1].extend(items)
            elif name in ("SETITEM", "SETITEMS"):
                if name == "SETITEM":
                    keys = [stack[-2]]
                    del stack[-2:]
                else:
                    items, stack = stack, marks.pop()
                    keys = items[0::2]
                if not all(_cheap_key(k) for k in keys):
                    return unsafe
                if isinstance(stack[-1], _Dict):
                    stack[-1].size += len(keys)
            elif name == "BINPERSID":
                pid = stack.pop()
                if isinstance(pid, tuple) and len(pid) > 2 and not isinstance(pid[2], str):
                    return "a tensor whose storage is named by something other than a string"
                stack.append(_Built(_storage_size(pid)))
            elif name in ("REDUCE", "NEWOBJ"):  # func(*args); NEWOBJ: cls.__new__(cls, *args), torch.Size(a list) too
                args = stack.pop()
                work -= _walk(args, views=_makes_view(stack[-1], args))
                problem = _WALKS if work < 0 else _reduce_problem(stack[-1], args, unsafe)
                if problem:
                    return problem
                stack[-1] = _made_of(stack[-1], args)
            elif name == "BUILD":
                state = stack.pop()
                work -= _walk(state, views=True)  # Tensor.set_(storage, ...), a Parameter's __setstate__: views
                if isinstance(stack[-1], _Dict) and not _dict_state(state):
                    return unsafe
                if work < 0:
                    return _WALKS
            elif name == "STOP":
                return None
            elif name not in ("PROTO", "FRAME"):
                return None  # an opcode torch's unpickler refuses
    except (IndexError, KeyError, TypeError, ValueError, RecursionError):
        return None  # a pickle torch.load cannot read either
    return None


_DICTS = ("collections.OrderedDict", "collections.Counter")
_WALKS = "calls that walk one large value again and again"


def _dict_state(state: Any) -> bool:
    """Whether BUILD's `state` for an OrderedDict (its __dict__.update(state)) sets only checked keys."""
    if state is None or isinstance(state, _Dict):
        return True
    return isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, _Dict) for s in state)


def _reduce_problem(func: Any, args: Any, unsafe: str) -> str | None:
    """What calling `func(*args)` in the grader would cost out of proportion, else None."""
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        return None
    if func.name == "torch._tensor._rebuild_from_type_v2" and len(args) > 2:  # (func, type, args, state): func(*args)
        return _reduce_problem(args[0], args[2], unsafe)
    if func.name == "builtins.bytearray" and any(isinstance(a, int) for a in args):
        return "a bytearray of a size (bytearray(n) fills n bytes in the grader)"
    if LEGACY_CONSTRUCTOR.fullmatch(func.name):  # torch.save rebuilds tensors from their storages' bytes, never so
        return "a tensor or storage made by its class (torch.FloatTensor(n): n elements, filled once converted)"
    if func.name in ("_codecs.encode", "builtins.bytearray") and len(args) > 1 and not _linear_codec(args[1]):
        return "text encoded by a codec other than latin-1, UTF-8 or ASCII (punycode takes the square of the text's length)"
    if func.name in _DICTS and not (args == () or (len(args) == 1 and isinstance(args[0], _Dict))):
        return unsafe  # a Counter of a list, an OrderedDict of pairs: keys the dict's SETITEMS never showed
    if func.name == "builtins.set" and args:
        items = args[0]
        if not isinstance(items, (list, tuple)) or len(args) > 1 or not all(_cheap_key(k) for k in items):
            return unsafe
    return None


LEGACY_CONSTRUCTOR = re.compile(r"torch\.(cuda\.|sparse\.|storage\.)?\w*(Tensor|Storage)")  # torch.Tensor, torch.cuda.FloatTensor, ...
LINEAR_CODECS = ("iso8859-1", "utf-8", "ascii")  # what pickle writes bytes with (latin1), and two more as cheap


def _linear_codec(name: Any) -> bool:
    """Whether `name` names a codec that encodes in time linear in the text (not punycode or idna,
    quadratic: 40,000 characters, 35 KB of pickle, took the grader over 3 minutes)."""
    import codecs

    try:
        return isinstance(name, str) and len(name) <= 40 and codecs.lookup(name).name in LINEAR_CODECS
    except LookupError:
        return False


def _opcodes_over(pickled: bytes, limit: int) -> bool:
    """Whether `pickled` holds more than `limit` opcodes (False for a damaged pickle: torch.load refuses it)."""
    try:
        for count, _ in enumerate(pickletools.genops(pickled)):
            if count >= limit:
                return True
    except Exception:  # noqa: BLE001 - a damaged pickle: torch.load refuses it
        return False
    return False


def decode(payload: bytes) -> Any:
    """A frame payload as plain data; ProtocolError for anything else. Never runs code."""
    if problem := stored_zip_problem(payload, MAX_FRAME):  # the pickle's opcodes counted too (pickle_problem)
        raise ProtocolError(f"a reply holding {problem}" if problem == TOO_MANY_VALUES else f"an unreadable reply ({problem})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a forged pickle's protocol warning is not the grader's news
            obj = checked_load(payload)
    except Exception as err:  # noqa: BLE001 - any unreadable reply is the worker's fault
        raise ProtocolError(f"an unreadable reply ({type(err).__name__})") from None
    return _plain(obj)


def write_frame(fd: int, payload: bytes, deadline: float | None = None) -> None:
    """One frame to `fd`. With a `deadline` (time.monotonic()), TimeoutError past it: `fd` is made
    non-blocking and written as it drains, so a reader that stops reading (a worker that shrank its
    pipe to one page and never reads a request larger than that) cannot hold the writer for ever."""
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    if deadline is None:
        while data:
            written = os.write(fd, data)
            data = data[written:]
        return
    os.set_blocking(fd, False)
    # poll(2), not epoll: epoll's watches are one budget per user across the host, which a sandboxed submission
    # (the grader's user) could take whole; poll keeps nothing in the kernel (and the sandbox refuses epoll)
    with selectors.PollSelector() as selector:
        selector.register(fd, selectors.EVENT_WRITE)
        while data:
            timeout = max(0.0, deadline - time.monotonic())
            if timeout == 0.0:
                raise TimeoutError
            if not selector.select(min(timeout, 0.5)):
                continue
            try:
                written = os.write(fd, data)
            except BlockingIOError:
                continue
            data = data[written:]


def read_frame(fd: int, deadline: float | None = None, alive: Callable[[], bool] | None = None, most: int = MAX_FRAME) -> bytes:
    """One frame from `fd`. TimeoutError past `deadline` (time.monotonic()), EOFError if the
    writer is gone, ProtocolError for a frame over MAX_FRAME or `most` bytes (refused before it is read)."""
    header = _read_exact(fd, _HEADER.size, deadline)
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ProtocolError(f"a reply of {size:,} bytes, over the proxy's {MAX_FRAME:,}")
    if size > most:
        raise ProtocolError(f"a reply of {size:,} bytes, over the {max(most, 0):,} its cells' replies had left")
    return _read_exact(fd, size, deadline)


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks, remaining = [], size
    with selectors.PollSelector() as selector:  # not epoll: see write_frame
        selector.register(fd, selectors.EVENT_READ)
        while remaining:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            if timeout is not None and timeout == 0.0:
                raise TimeoutError
            if not selector.select(min(timeout, 0.5) if timeout is not None else 0.5):
                continue
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            remaining -= len(chunk)
    return b"".join(chunks)


class Handle:
    """An object that lives in the worker. Call it, or read an attribute (another request)."""

    __slots__ = ("_channel", "_id", "_type")

    def __init__(self, channel: "Channel", ident: int, type_name: str) -> None:
        self._channel, self._id, self._type = channel, ident, type_name

    @property
    def type_name(self) -> str:
        """The worker's word for the object's type, "module.QualName" (untrusted text)."""
        return self._type

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.request({"op": "call", "target": self._id, "args": args, "kwargs": kwargs})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._channel.request({"op": "getattr", "target": self._id, "name": name})

    def __repr__(self) -> str:
        return f"<{self._type} in the submission's worker>"


def own_elements(t: torch.Tensor) -> torch.Tensor:
    """`t` as what crosses to the worker: itself when its storage holds its elements and nothing more (contiguous, from
    the storage's start, to its end), else a contiguous copy of its elements. torch.save writes a view's whole storage:
    a check that passed the student's function a slice (`HIDDEN[10:12]`) sent all 1,000,000 numbers of HIDDEN, which
    the function read through `x.untyped_storage()`."""
    if t.layout != torch.strided or (t.is_contiguous() and t.storage_offset() == 0
                                     and t.untyped_storage().nbytes() == t.numel() * t.element_size()):
        return t
    return t.clone(memory_format=torch.contiguous_format)


class Channel:
    """Requests to one worker over its pipes. `lost()` says why the worker is gone (a limit it
    hit, or how it ended); `deadline()` is when the submission's time runs out."""

    def __init__(self, fd_in: int, fd_out: int, lost: Callable[[], str], deadline: Callable[[], float]) -> None:
        self._in, self._out, self._lost, self._deadline = fd_in, fd_out, lost, deadline
        self.broken: str | None = None
        self.received = 0

    def send(self, message: dict) -> None:
        if self.broken:
            raise SubmissionLost(self.broken)
        try:
            write_frame(self._out, encode(self._wire(message)), self._deadline())
        except TimeoutError:
            self._break(timeout=True)
        except OSError:
            self._break()

    def receive(self, most: int = MAX_FRAME) -> Any:
        """The next reply, decoded; SubmissionLost when the worker died or ran out of time, or sent a
        frame of more than `most` bytes (`self.received`: the size of the last one read)."""
        if self.broken:
            raise SubmissionLost(self.broken)
        try:
            payload = read_frame(self._in, self._deadline(), most=most)
            self.received = len(payload)
            return decode(payload)
        except TimeoutError:
            self._break(timeout=True)
        except (EOFError, OSError):
            self._break()
        except ProtocolError as err:
            self._break(protocol=str(err))
        raise AssertionError("unreachable")

    def protocol_error(self, what: str) -> None:
        """The worker sent `what`, which no honest worker sends: its channel is broken (SubmissionLost)."""
        self._break(protocol=what)

    def _break(self, timeout: bool = False, protocol: str | None = None) -> None:
        if protocol:
            self.broken = f"the submission's worker sent {protocol}; its remaining checks could not run"
        else:
            self.broken = self._lost(timeout)
        raise SubmissionLost(self.broken)

    def request(self, message: dict) -> Any:
        """Send one request; its value, or StudentError / CheckFailure for the student's errors."""
        self.send(message)
        return self.unwrap(self.receive())

    def unwrap(self, reply: Any) -> Any:
        from reference.grading.checks import CheckFailure

        if not isinstance(reply, dict):
            self._break(protocol="a reply that is not a dict")
        if "value" in reply:
            return self._values(reply["value"])
        if "missing" in reply:
            raise CheckFailure(clean_text(reply["missing"], 400))
        error = reply.get("error")
        if isinstance(error, dict):
            raise StudentError.from_info(error)
        self._break(protocol="a reply with neither a value nor an error")

    def _values(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {HANDLE, "type"} and isinstance(value[HANDLE], int):
                return Handle(self, value[HANDLE], clean_text(value["type"], 120))
            return {k: self._values(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._values(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._values(v) for v in value)
        return value

    def _wire(self, obj: Any) -> Any:
        """A request's arguments with handles and NAMESPACE as markers the worker resolves."""
        if isinstance(obj, Handle):
            return {HANDLE: obj._id, "type": obj._type}
        if obj is NAMESPACE:
            return {NAMESPACE_KEY: True}
        if isinstance(obj, dict):
            return {k: self._wire(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._wire(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._wire(v) for v in obj)
        if isinstance(obj, torch.Tensor):
            return own_elements(obj.detach())
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        raise TypeError(f"a check passed a {type(obj).__name__} to the submission; pass plain data, tensors or handles")


class RemoteSubmission:
    """The submission as the trusted grader sees it: its objects live in the sandboxed worker.

    The same interface as `LocalSubmission` (get, run, scratch, `in`); see
    `reference.grading.submission`.
    """

    remote = True
    namespace = None  # never the student's globals: nothing of theirs runs in this process

    def __init__(self, channel: Channel, scratch) -> None:
        self._channel = channel
        self.scratch = scratch

    def get(self, name: str) -> Any:
        return self._channel.request({"op": "get", "name": name})

    def __contains__(self, name: object) -> bool:
        return bool(isinstance(name, str) and self._channel.request({"op": "has", "name": name}) is True)

    def run(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return self._channel.request({"op": "run", "function": probe_name(fn), "args": args, "kwargs": kwargs})

    def files(self, under: str | os.PathLike = ".") -> list:
        """Regular files the notebook wrote below scratch/`under` (links and special files skipped)."""
        return scratch_files(self.scratch, under)

    def read_bytes(self, path: str | os.PathLike) -> bytes:
        """A file the notebook wrote, read safely (see reference.grading.submission.read_scratch_file)."""
        return read_scratch_file(self.scratch, path)


def finite(value: Any) -> bool:
    """A real number (not NaN, not infinite, not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
