"""Audio and video conversion with FFmpeg (docs/api.md "Media"), the engine adapter: probe, plan, transcode,
check the output.

The plan is the pure planner's (filegate.engines.av.planner). ``convert_file`` runs it in the sandbox of ffmpeg.py
and describes what it wrote from FFmpeg's own report of the run (no second probe), so an output that decoded
to nothing is a failure, never a success. The input is probed once, by the plan, and the probe reused.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from filegate import errors
from filegate.engines.av import ffmpeg, segments
from filegate.engines.av import probe as media_probe
from filegate.engines.av.planner import THUMBNAIL_CODECS, plan, plan_segments
from filegate.engines.interface import (
    EngineName,
    Options,
    Output,
    RunLimits,
    Segmenting,
    Source,
    StreamedOutput,
    Workspace,
)
from filegate.engines.interface import Plan as EnginePlan
from filegate.formats.options import MediaOptions
from filegate.formats.table import (
    check_options_apply,
    compress_target,
    content_type,
    demuxer,
    normalize,
    resolve_target,
    targets_for,
)
from filegate.tiers import MB, MediaLimits, Tier

# Containers without an index: seeking before -i lands by estimate (often past the only keyframe of a short
# clip), so they are read from the start and the decoded frames before the position dropped.
INDEXLESS_SOURCES = frozenset({"ts", "aac", "gif", "webp"})


@dataclass(frozen=True)
class MediaResult:
    path: Path
    format: str
    content_type: str
    units: int
    metadata: dict[str, object]


def convert_file(
    source_path: Path,
    source: str,
    target: str,
    options: MediaOptions,
    limits: MediaLimits,
    *,
    workdir: Path,
    sandbox: ffmpeg.Sandbox,
    binary: str = "",
    info: media_probe.MediaInfo | None = None,
    progress: Callable[[float], None] | None = None,
) -> MediaResult:
    """Probe (unless `info` is given), plan and run one conversion; the output's path is in `workdir`.
    `progress` is told the fraction done (0 to 1) while FFmpeg runs."""
    forced = demuxer(source)
    if info is None:
        info = media_probe.probe(source_path, source, forced, workdir=workdir, binary=binary)
    chosen = plan(info, target, options, limits)
    output = workdir / f"output.{target}"
    if chosen.seek and source in INDEXLESS_SOURCES:
        head, tail = ffmpeg.input_args(source_path, forced), ["-ss", f"{chosen.seek:.3f}"]
    else:
        head, tail = ffmpeg.input_args(source_path, forced, seek=chosen.seek), []
    args = [*head, *tail, *chosen.args, "-y", f"file:{output}"]
    on_progress = None
    if progress is not None and chosen.output_seconds > 0:
        report, total = progress, chosen.output_seconds
        on_progress = lambda seconds: report(min(1.0, max(0.0, seconds / total)))  # noqa: E731
    result = ffmpeg.run(args, sandbox, workdir=workdir, binary=binary, on_progress=on_progress)
    if not result.ok:
        raise ffmpeg.failure(result, "conversion")
    if not output.exists() or output.stat().st_size == 0:
        raise errors.ConversionFailed("The media decoded to nothing: there was no frame or sample to convert.")
    described = _describe(output, target, result.stderr)
    check_not_truncated(described, chosen.output_seconds)
    return MediaResult(output, target, content_type(target), chosen.units, described)


# Truncated media is 422 conversion_failed (docs/api.md "Media"), never a shorter output passed off as the whole:
# the container's own duration (its header or index, as probed) against what decoded. The slack covers codec
# framing at the ends (audio priming, a last frame's length), never a missing part.
TRUNCATION_SLACK_SECONDS = 1.0
TRUNCATION_SLACK_FRACTION = 0.05


def check_not_truncated(described: Mapping[str, object], expected_seconds: float) -> None:
    """ConversionFailed when the output lasts less than the source declared it would (a thumbnail: 0)."""
    decoded = described.get("duration")
    if expected_seconds <= 0 or not isinstance(decoded, int | float):
        return
    slack = max(TRUNCATION_SLACK_SECONDS, expected_seconds * TRUNCATION_SLACK_FRACTION)
    if decoded + slack < expected_seconds:
        raise errors.ConversionFailed(
            f"The media is truncated: its container declares {expected_seconds:.1f} s, "
            f"but only {decoded:.1f} s could be decoded."
        )


def _describe(output: Path, target: str, stderr: str) -> dict[str, object]:
    """The output's metadata from the run's own report; a run that wrote no frame or sample is a failure."""
    if target in THUMBNAIL_CODECS:
        info = media_probe.parse(stderr, target, section="Output #0")
        video = info.video if info is not None else None
        if video is None or not video.width or not video.height:
            raise errors.ConversionFailed("The thumbnail could not be made: no frame was decoded.")
        return {"kind": "image", "format": target, "width": video.width, "height": video.height}
    described = media_probe.described_output(stderr, target, output.stat().st_size)
    if described is None:
        raise errors.ConversionFailed("The media decoded to nothing: there was no frame or sample to convert.")
    return described.to_json()


# --------------------------------------------------------------------------- the engine interface


class AvEngine:
    """Audio and video, and animated images made into video (filegate.engines.Engine): local files, probed
    and run by the media worker only (the functions that answer requests carry no FFmpeg), so a sync request
    queues its conversion and waits for it."""

    name: EngineName = "av"
    reads_memory = False

    def parse_options(
        self, raw: Mapping[str, Any] | None, *, source: str, target: str | None, form: bool = False, field: str = ""
    ) -> MediaOptions:
        options = MediaOptions.from_form(raw or {}) if form else MediaOptions.from_json(raw, prefix=field or "options.")
        canonical = normalize(target or "")
        if canonical in targets_for(source):  # otherwise planning says the pair is not supported
            check_options_apply(options.given(), source, str(canonical), prefix=field)
        return options

    def probe(self, source: Source, tier: Tier, workspace: Workspace | None) -> media_probe.MediaInfo | None:
        if workspace is None:  # only the media worker carries FFmpeg
            return None
        return _probe(source, workspace)

    def stored_probe(self, metadata: Mapping[str, Any]) -> media_probe.MediaInfo | None:
        return media_probe.MediaInfo.from_json(metadata)

    def plan(
        self, source_format: str, target: str | None, options: Options, tier: Tier, probe: Any = None
    ) -> EnginePlan:
        output = compress_target(source_format) if target is None else resolve_target(source_format, target)
        if probe is None:  # one unit reserved; the worker tops it up from its probe
            return EnginePlan(source_format, output, units=1, estimated_seconds=None, in_request=False)
        assert isinstance(options, MediaOptions) and isinstance(probe, media_probe.MediaInfo)
        units = plan(probe, output, options, tier.media).units
        # FFmpeg's speed varies too much by codec and content to estimate: the media path waits instead.
        return EnginePlan(source_format, output, units, estimated_seconds=None, in_request=False, probe=probe)

    def run(
        self,
        source: Source,
        plan: EnginePlan,
        options: Options,
        tier: Tier,
        workspace: Workspace,
        *,
        seconds: float | None,
    ) -> Output:
        assert isinstance(options, MediaOptions)
        if workspace.limits is None:
            raise errors.ConversionFailed("This function does not run audio or video conversions.")
        result = convert_file(
            source.local_file(workspace.workdir),
            plan.source,
            plan.target,
            options,
            tier.media,
            workdir=workspace.workdir,
            sandbox=sandbox(workspace.limits),
            binary=workspace.ffmpeg_path,
            info=plan.probe,
            progress=workspace.progress,
        )
        return Output(result.format, result.content_type, path=result.path, metadata=result.metadata)

    # ------------------------------------------------------------------ long media (engines.Segmented)

    def segment(
        self, probe: Any, plan: EnginePlan, options: Options, tier: Tier, segmenting: Segmenting
    ) -> segments.SegmentPlan | None:
        """The segments of a long video output (docs/api.md "Long media"), or None: converted in one piece."""
        assert isinstance(options, MediaOptions) and isinstance(probe, media_probe.MediaInfo)
        return plan_segments(probe, plan.target, options, tier.media, segmenting)

    def segments_from_json(self, data: dict[str, Any]) -> segments.SegmentPlan:
        return segments.SegmentPlan.from_json(data)

    def run_piece(self, cut: segments.SegmentPlan, name: str, source: Source, workspace: Workspace) -> Path:
        """One piece of a long conversion, from the input at `source.url`; its file, in the workspace."""
        if workspace.limits is None or source.url is None:
            raise errors.ConversionFailed("This function does not run audio or video conversions.")
        limits = sandbox(workspace.limits)
        return segments.encode_piece(
            cut, name, source.url, workdir=workspace.workdir, sandbox=limits, binary=workspace.ffmpeg_path
        )

    def join_pieces(
        self, cut: segments.SegmentPlan, pieces_url: str, workspace: Workspace, output: StreamedOutput
    ) -> Output:
        """The output from the pieces at ``<pieces_url>/<file_name>``, nothing re-encoded, written to `output`
        (stored when this returns: it may be larger than the disk, up to the segmenting's joined output cap)."""
        if workspace.limits is None or workspace.segmenting is None:
            raise errors.ConversionFailed("This function does not run audio or video conversions.")
        limits = replace(sandbox(workspace.limits), max_output_bytes=workspace.segmenting.max_joined_output_mb * MB)
        size, metadata = segments.join(
            cut, pieces_url, workspace.workdir, output, sandbox=limits, binary=workspace.ffmpeg_path
        )
        check_not_truncated(metadata, cut.output_seconds)  # a cut-short source's last pieces decode less
        return Output(cut.target, content_type(cut.target), metadata=metadata, sent_bytes=size)

    def metadata(self, source: Source, workspace: Workspace, probe: Any = None) -> dict[str, Any]:
        if isinstance(probe, media_probe.MediaInfo):
            return probe.to_json()
        with tempfile.TemporaryDirectory(prefix="probe-", dir=workspace.workdir) as scratch:
            return _probe(source, Workspace(Path(scratch), workspace.ffmpeg_path)).to_json()


def _probe(source: Source, workspace: Workspace) -> media_probe.MediaInfo:
    forced, binary = demuxer(source.format), workspace.ffmpeg_path
    if source.url is not None:  # read in ranges: only the header (and an index) is fetched
        head = source.head or b""
        return media_probe.probe_url(source.url, source.format, forced, head, workdir=workspace.workdir, binary=binary)
    path = source.local_file(workspace.workdir)
    return media_probe.probe(path, source.format, forced, workdir=workspace.workdir, binary=binary)


def sandbox(limits: RunLimits) -> ffmpeg.Sandbox:
    return ffmpeg.Sandbox(
        wall_seconds=limits.wall_seconds,
        cpu_seconds=limits.cpu_seconds,
        memory_bytes=limits.memory_mb * MB,
        max_output_bytes=limits.max_output_mb * MB,
    )


ENGINE = AvEngine()
