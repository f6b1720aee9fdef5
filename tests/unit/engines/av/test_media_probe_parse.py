"""The probe reads FFmpeg's description of its input: streams, cover art, layouts, rotation, codec tags."""

from filegate.engines.av.probe import parse

SONG = """[mp3 @ 0x1] Estimating duration from bitrate
Input #0, mp3, from 'file:/tmp/x/input':
  Metadata:
    title           : Song 1920x1080 / live
  Duration: 00:03:05.12, start: 0.025057, bitrate: 320 kb/s
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, stereo, fltp, 320 kb/s
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 600x600 [SAR 1:1 DAR 1:1], 90k tbr, 90k tbn (attached pic)
At least one output file must be specified
"""

MOVIE = """Input #0, matroska,webm, from 'file:/tmp/x/input':
  Duration: 01:02:03.50, start: 0.000000, bitrate: 4500 kb/s
  Stream #0:0(eng): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 23.98 fps, 23.98 tbr, 1k tbn (default)
    Side data:
      Display Matrix: rotation of -90.00 degrees
  Stream #0:1(eng): Audio: eac3, 48000 Hz, 5.1(side), fltp, 640 kb/s (default)
  Stream #0:2(eng): Audio: pcm_s24le, 96000 Hz, 3 channels, s32 (24 bit), 6912 kb/s
  Stream #0:3(eng): Subtitle: subrip (srt)
"""


def test_cover_art_is_not_a_video_and_title_text_is_not_a_frame() -> None:
    info = parse(SONG, "mp3")
    assert info is not None and info.kind == "audio"
    assert info.to_json() == {
        "kind": "audio",
        "format": "mp3",
        "duration": 185.12,
        "bit_rate": 320000,
        "streams": [{"type": "audio", "codec": "mp3", "sample_rate": 44100, "channels": 2}],
    }


def test_rotation_layouts_and_codec_tags() -> None:
    info = parse(MOVIE, "mkv")
    assert info is not None and info.duration == 3723.5 and info.kind == "video"
    video, surround, multi = info.streams
    assert (video.codec, video.width, video.height, video.fps) == ("h264", 1080, 1920, 23.98)  # turned upright
    assert (surround.codec, surround.sample_rate, surround.channels) == ("eac3", 48000, 6)
    assert multi.channels == 3


def test_nothing_opened_is_none() -> None:
    assert parse("[in#0 @ 0x1] Error opening input: Invalid data found when processing input\n", "mp4") is None
