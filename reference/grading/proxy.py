"""The proxy between the trusted grader and the sandboxed worker that runs a submission.

Messages are length-prefixed frames; each frame is a `torch.save` of plain data, read on the
trusted side with `torch.load(weights_only=True)` only: None, bools, numbers, strings, lists,
tuples, dicts and tensors can cross, nothing that runs code when it is read. Objects that are not
plain data stay in the worker and cross as handles ({HANDLE: id, "type": "module.Class"}); the
trusted side sees them as `Handle`s, which can be called and whose attributes can be read, each
call one request to the worker.

Everything that comes back is untrusted: the worker runs the student's code, which can answer
anything. `decode` checks every value's type, so a forged reply is at worst a wrong answer.
"""

from __future__ import annotations

import io
import math
import os
import pickletools
import selectors
import struct
import time
import warnings
import zipfile
from typing import Any, Callable

import torch

from reference.grading.checks import StudentError, SubmissionLost, clean_text
from reference.grading.submission import NAMESPACE, probe_name, read_scratch_file, scratch_files

__all__ = [
    "Channel", "Handle", "NOT_ZIP", "ProtocolError", "RemoteSubmission", "TOO_MANY_VALUES", "decode", "encode", "read_frame", "stored_zip_problem",
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
    return pickle_problem(data)


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


class _Budget:
    """How many values a reply may hold, counted as it is walked: references to one object count
    each time (a reply of 4 KB could otherwise expand into billions of values)."""

    def __init__(self) -> None:
        self.left = MAX_VALUES

    def take(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ProtocolError(f"a reply holding more than {MAX_VALUES:,} values")


def _plain(obj: Any, depth: int = 0, budget: _Budget | None = None) -> Any:
    """`obj` if it holds only plain data (tuples kept), else ProtocolError."""
    budget = budget or _Budget()
    budget.take()
    if depth > MAX_DEPTH:
        raise ProtocolError("a reply nested deeper than the proxy allows")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, torch.Tensor):
        try:
            problem = tensor_problem(obj)
        except Exception:  # noqa: BLE001 - a tensor torch.load makes but cannot describe (a forged nested one)
            problem = "a tensor the proxy cannot read"
        if problem:
            raise ProtocolError(f"a reply held {problem}")
        return obj
    if isinstance(obj, (list, tuple)):
        items = [_plain(item, depth + 1, budget) for item in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        if not all(isinstance(key, (str, int)) and not isinstance(key, bool) for key in obj):
            raise ProtocolError("a reply held a dict with keys that are not strings or integers")
        return {key: _plain(value, depth + 1, budget) for key, value in obj.items()}
    raise ProtocolError(f"a reply held a {type(obj).__name__}, which the proxy does not carry")


def pickle_problem(data: bytes) -> str | None:
    """None unless the pickle of torch.save's zip `data` has more than MAX_OPS opcodes. torch.load's
    weights_only unpickler is Python, about 3 microseconds an opcode, and a pickle of one-byte
    opcodes ([None] * n) is as long as its opcodes: a 128 MB reply held the trusted grader for about
    8 minutes (and a GB) before the value budget could refuse it. A pickle no longer than MAX_OPS
    bytes cannot have more; a longer one is counted (about 1.5 microseconds an opcode, stopping at
    MAX_OPS). Bytes that are not such a zip are left to torch.load to refuse."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # every data.pkl: which one torch.load reads is its business
            for info in archive.infolist():
                if (info.filename == "data.pkl" or info.filename.endswith("/data.pkl")) and info.file_size > MAX_OPS:
                    if _opcodes_over(archive.read(info), MAX_OPS):
                        return TOO_MANY_VALUES
    except (zipfile.BadZipFile, ValueError, OSError, KeyError):
        return None
    return None


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
            obj = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable reply is the worker's fault
        raise ProtocolError(f"an unreadable reply ({type(err).__name__})") from None
    return _plain(obj)


def write_frame(fd: int, payload: bytes) -> None:
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_frame(fd: int, deadline: float | None = None, alive: Callable[[], bool] | None = None) -> bytes:
    """One frame from `fd`. TimeoutError past `deadline` (time.monotonic()), EOFError if the
    writer is gone, ProtocolError for a frame over MAX_FRAME."""
    header = _read_exact(fd, _HEADER.size, deadline)
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ProtocolError(f"a reply of {size:,} bytes, over the proxy's {MAX_FRAME:,}")
    return _read_exact(fd, size, deadline)


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks, remaining = [], size
    with selectors.DefaultSelector() as selector:
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


class Channel:
    """Requests to one worker over its pipes. `lost()` says why the worker is gone (a limit it
    hit, or how it ended); `deadline()` is when the submission's time runs out."""

    def __init__(self, fd_in: int, fd_out: int, lost: Callable[[], str], deadline: Callable[[], float]) -> None:
        self._in, self._out, self._lost, self._deadline = fd_in, fd_out, lost, deadline
        self.broken: str | None = None

    def send(self, message: dict) -> None:
        if self.broken:
            raise SubmissionLost(self.broken)
        try:
            write_frame(self._out, encode(self._wire(message)))
        except OSError:
            self._break()

    def receive(self) -> Any:
        """The next reply, decoded; SubmissionLost when the worker died or ran out of time."""
        if self.broken:
            raise SubmissionLost(self.broken)
        try:
            return decode(read_frame(self._in, self._deadline()))
        except TimeoutError:
            self._break(timeout=True)
        except (EOFError, OSError):
            self._break()
        except ProtocolError as err:
            self._break(protocol=str(err))
        raise AssertionError("unreachable")

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
            return obj.detach()
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
