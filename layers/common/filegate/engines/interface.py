"""The interface every engine implements (filegate.engines): what goes in, what comes out, the plan. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from filegate.tiers import Tier

# Which worker runs an engine's queued conversions: each has a queue of its own (documents: LibreOffice, and
# the PDF tools, whose OCR needs Tesseract).
EngineName = Literal["image", "av", "document"]


class OverBudget(Exception):
    """The work would not (or did not) finish within the seconds it was given."""


@dataclass(frozen=True)
class Source:
    """An input: its sniffed format and its bytes, in memory or in a local file, or (an engine that reads in
    ranges) a loopback URL serving the stored object and the object's first bytes."""

    format: str
    data: bytes | None = None
    path: Path | None = None
    url: str | None = None
    head: bytes | None = None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    def local_file(self, workdir: Path) -> Path:
        """The input as a local file (written into `workdir` when it is held in memory)."""
        if self.path is not None:
            return self.path
        path = workdir / "input"
        path.write_bytes(self.read())
        return path


@dataclass(frozen=True)
class Output:
    """A conversion's output, in memory or in a local file, and what is known about it."""

    format: str
    content_type: str
    data: bytes | None = None
    path: Path | None = None
    metadata: dict[str, Any] | None = None
    sent_bytes: int | None = None  # neither: already sent where it is stored (a StreamedOutput), this long

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        if self.sent_bytes is not None:
            return self.sent_bytes
        assert self.path is not None
        return self.path.stat().st_size


@dataclass(frozen=True)
class Plan:
    """What a conversion will be, decided before any of the work."""

    source: str
    target: str  # the output's format
    units: int  # what it costs (docs/api.md §3); before a probe, the least it can cost
    estimated_seconds: float | None  # None when it cannot be told before the engine's worker probes the input
    in_request: bool  # whether a function answering a request may run it itself (it carries the engine)
    probe: Any = None  # the engine's probe of the input, kept for `run`

    def fits(self, seconds: float) -> bool:
        """Whether running it now should finish within `seconds`."""
        return self.in_request and self.estimated_seconds is not None and self.estimated_seconds <= seconds


@dataclass(frozen=True)
class RunLimits:
    """What one conversion child may use (the media worker's settings): wall and CPU time, memory, output."""

    wall_seconds: float
    cpu_seconds: int
    memory_mb: int
    max_output_mb: int


@dataclass(frozen=True)
class Segmenting:
    """Long media (docs/api.md "Media" → "Long media"): video outputs longer than `above_seconds` are converted in
    segments of about `segment_seconds` (the media worker's settings)."""

    above_seconds: float
    segment_seconds: float
    # The join streams its output to where it is stored (StreamedOutput), in parts of this size, so the
    # joined output may be larger than the worker's disk, up to max_joined_output_mb.
    join_part_mb: int = 64
    max_joined_output_mb: int = 20480


class StreamedOutput(Protocol):
    """A file sent where it is stored while a child process writes it at `path` (files.growing_upload)."""

    path: Path

    def pump(self, keep_bytes: int, paused: Callable[[], AbstractContextManager[None]]) -> None:
        """Send what lies more than `keep_bytes` behind the end of the file (called while the writer runs); in
        `paused` (the writer held still) when the writer has run ahead."""
        ...

    def size(self) -> int: ...

    def read(self, offset: int, length: int) -> bytes:
        """Bytes not sent yet (the head and the tail)."""
        ...

    def finish(self, front: bytes = b"", cut: int = 0, end: int | None = None) -> int:
        """Store `front` and then the file's bytes [cut, end) once the writer has ended; the stored size."""
        ...


@dataclass(frozen=True)
class Workspace:
    """Where an engine runs: scratch space, the FFmpeg binary (empty: the layer's), the limits of a
    conversion child (None where the function only probes and reads headers), and what to tell the fraction
    of a run done (0 to 1) while it runs, when an engine can tell (None: nobody asks)."""

    workdir: Path
    ffmpeg_path: str = ""
    limits: RunLimits | None = None
    progress: Callable[[float], None] | None = None
    segmenting: Segmenting | None = None  # where long media is cut into segments (the media worker)


class Options(Protocol):
    def to_json(self) -> dict[str, object]: ...


class Engine(Protocol):
    name: EngineName
    # Whether the engine reads its input from memory (a worker then fetches the bytes) or from a local file.
    reads_memory: bool

    def parse_options(
        self, raw: Mapping[str, Any] | None, *, source: str, target: str | None, form: bool = False, field: str = ""
    ) -> Options:
        """Options from a multipart form (`form`: strings, other fields ignored) or a JSON object, held to the
        pair; errors name the option after `field` (``options.``, ``items[2].options.``). Target None is
        compress (the source's own format, smaller)."""
        ...

    def probe(self, source: Source, tier: Tier, workspace: Workspace | None) -> Any:
        """What the input is, read from its header (images) or by FFmpeg (audio and video), refused (413/422)
        when the tier does not take it; None where this function cannot probe it (FFmpeg runs only in the
        media worker: `workspace` None)."""
        ...

    def plan(self, source_format: str, target: str | None, options: Options, tier: Tier, probe: Any = None) -> Plan:
        """What the conversion will be (UnsupportedConversion, 413 or 422 when it cannot be): from the probe when
        there is one, else the least it can be (one unit, its time unknown)."""
        ...

    def run(
        self, source: Source, plan: Plan, options: Options, tier: Tier, workspace: Workspace, *, seconds: float | None
    ) -> Output:
        """Do the conversion; with `seconds`, OverBudget past them (the work stopped, nothing left running)."""
        ...

    def metadata(self, source: Source, workspace: Workspace, probe: Any = None) -> dict[str, Any]:
        """A file's `metadata` (docs/api.md "Files"), from its header or its probe (probed again unless given)."""
        ...


@runtime_checkable
class ProbedWhenStored(Protocol):
    """An engine whose probe is kept in a stored file's `metadata` (probed at `complete`): a job is planned,
    and refused (413/422) before any work, from what the file was found to be."""

    def stored_probe(self, metadata: Mapping[str, Any]) -> Any:
        """What `probe` said of the file, from its stored metadata; None when it does not say enough."""
        ...


class Merger(Protocol):
    """Several inputs made into one PDF (docs/pdf-tools.md "Merge"), in order: a merge's own options, its
    plan (a unit per input), its run."""

    def parse_options(self, raw: Mapping[str, Any] | None, *, form: bool = False, field: str = "") -> Options: ...

    def plan(self, formats: list[str], options: Options, sizes: list[int], *, field: str = "file") -> Plan:
        """UnsupportedConversion naming (`field`[i]) the first input a merge cannot take."""
        ...

    def run(
        self,
        inputs: list[tuple[Source, str]],
        options: Options,
        tier: Tier,
        workspace: Workspace,
        *,
        seconds: float | None,
    ) -> Output:
        """The merged PDF of `inputs` (each with its title: its file name), OverBudget past `seconds`."""
        ...


@runtime_checkable
class Segmented(Protocol):
    """An engine that converts long inputs in pieces (``segment``): each piece by its own worker invocation,
    then joined (conversions.long_media runs them)."""

    def segment(self, probe: Any, plan: Plan, options: Options, tier: Tier, segmenting: Segmenting) -> Any:
        """The pieces a long conversion is cut into (``pieces``, ``file_name(name)``, ``to_json()``), or None
        when it is converted in one piece."""
        ...

    def segments_from_json(self, data: dict[str, Any]) -> Any:
        """What ``segment`` returned, again, from its ``to_json()`` (kept in the manifest)."""
        ...

    def run_piece(self, cut: Any, name: str, source: Source, workspace: Workspace) -> Path:
        """Convert the piece `name` of `cut` from `source` (its `url`); the piece's file in the workspace."""
        ...

    def join_pieces(self, cut: Any, pieces_url: str, workspace: Workspace, output: StreamedOutput) -> Output:
        """The output from every piece of `cut`, served at ``<pieces_url>/<cut.file_name(name)>``, written to
        `output` (``sent_bytes``: it is stored when this returns)."""
        ...
