"""Media in the one format table (GET /v1/formats), sniffing from bytes, and typed options per pair."""

import pytest

from filegate.errors import ConversionFailed, InvalidParameter
from filegate.formats.options import MediaOptions
from filegate.formats.sniff import sniff
from filegate.formats.table import (
    FORMATS,
    check_options_apply,
    formats_document,
    is_media_conversion,
    normalize,
    resolve_target,
)
from tests.helpers import av_samples as av

VIDEO_TARGETS = {"mp4", "webm", "gif", "mp3", "m4a", "opus", "wav", "flac", "jpg", "png", "webp"}
AUDIO_TARGETS = {"mp3", "m4a", "opus", "wav", "flac"}


def test_formats_document_lists_media_with_targets_and_options() -> None:
    formats = formats_document()["formats"]
    for name in ("mp4", "mov", "m4a", "webm", "mkv", "avi", "ts", "flv", "ogg", "opus", "wav", "flac", "mp3", "aac"):
        assert name in formats, name
        assert formats[name]["content_type"] == FORMATS[name].content_type
        assert formats[name]["compress"] is False
    assert set(formats["mp4"]["to"]) == VIDEO_TARGETS
    assert set(formats["mp3"]["to"]) == AUDIO_TARGETS
    assert set(formats["mp4"]["options"]) == {
        "width", "height", "fit", "quality", "start", "duration", "fps", "audio_bitrate", "mute", "at", "enlarge"
    }  # fmt: skip
    assert set(formats["wav"]["options"]) == {"quality", "start", "duration", "audio_bitrate"}
    # An animated GIF is also a video source; images still do not list media targets.
    assert {"mp4", "webm"} <= set(formats["gif"]["to"]) and "fps" in formats["gif"]["options"]
    assert not {"mp4", "mp3"} & set(formats["png"]["to"])


def test_aliases_and_targets() -> None:
    assert normalize("M4V") == "mp4" and normalize("oga") == "ogg" and normalize(".wave") == "wav"
    assert resolve_target("mov", "MP4") == "mp4"
    with pytest.raises(Exception, match="mp3 converts to"):
        resolve_target("mp3", "mp4")


@pytest.mark.parametrize("fmt", [*av.VIDEO_INPUTS, *av.AUDIO_INPUTS])
def test_every_input_is_sniffed_from_its_bytes(fmt: str) -> None:
    assert sniff(av.sample(fmt)[:4096]) == fmt


@pytest.mark.parametrize("fmt", av.ANIMATED_IMAGES)
def test_animations_stay_image_formats_with_video_targets(fmt: str) -> None:
    assert sniff(av.sample(fmt)) == fmt
    assert {"mp4", "webm"} <= set(formats_document()["formats"][fmt]["to"])


@pytest.mark.parametrize(
    "data",
    [
        av.hls_playlist(9),
        b"\xef\xbb\xbf#EXTM3U\n#EXTINF:1,\nhttp://example.com/a.ts\n",
        av.concat_list(),
        b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nm=video 5004 RTP/AVP 96\r\n",
        b"[playlist]\nFile1=file:///etc/passwd\n",
    ],
)
def test_indirection_formats_are_refused_as_conversion_failed(data: bytes) -> None:
    with pytest.raises(ConversionFailed, match="point at other files"):
        sniff(data)


def test_plain_text_is_a_text_document_not_media() -> None:
    assert sniff(b"just some text, nothing to see") == "txt"


def test_options_parse_from_form_and_json() -> None:
    form = MediaOptions.from_form({"target": "mp4", "width": "640", "start": "1.5", "mute": "true", "fps": "24"})
    assert (form.width, form.start, form.mute, form.fps) == (640, 1.5, True, 24.0)
    assert MediaOptions.from_json(form.to_json()) == form
    assert MediaOptions.from_json({"duration": 2, "audio_bitrate": 128}).given() == ["duration", "audio_bitrate"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"fps": "0"}, "fps"),
        ({"fps": "61"}, "fps"),
        ({"audio_bitrate": "16"}, "audio_bitrate"),
        ({"audio_bitrate": "400"}, "audio_bitrate"),
        ({"quality": "0"}, "quality"),
        ({"start": "-1"}, "start"),
        ({"duration": "0"}, "duration"),
        ({"at": "abc"}, "at"),
        ({"mute": "maybe"}, "mute"),
        ({"fit": "stretch"}, "fit"),
        ({"page": "2"}, "page"),
    ],
)
def test_out_of_range_options_name_themselves(fields: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidParameter, match=f"^{named}"):
        MediaOptions.from_form(fields)


@pytest.mark.parametrize(
    ("target", "option"),
    [("mp3", "width"), ("mp3", "mute"), ("wav", "quality"), ("flac", "audio_bitrate"), ("gif", "mute"),
     ("jpg", "start"), ("mp4", "at"), ("png", "quality")],
)  # fmt: skip
def test_an_option_that_does_not_apply_to_the_pair_is_named(target: str, option: str) -> None:
    value = True if option == "mute" else 64
    with pytest.raises(InvalidParameter, match=f"^{option} does not apply to converting mp4 to {target}"):
        check_options_apply(MediaOptions(**{option: value}).given(), "mp4", target)


def test_json_options_are_strict() -> None:
    with pytest.raises(InvalidParameter, match=r"^options\.page does not apply to audio or video"):
        MediaOptions.from_json({"page": 1})
    with pytest.raises(InvalidParameter, match=r"^options\.fsp: unknown option .*did you mean `fps`\?"):
        MediaOptions.from_json({"fsp": 1})
    with pytest.raises(InvalidParameter, match=r"^options\.mute must be true or false"):
        MediaOptions.from_json({"mute": "yes"})
    with pytest.raises(InvalidParameter, match=r"^options\.fps must be a number"):
        MediaOptions.from_json({"fps": "30"})


def test_media_conversions_are_recognised() -> None:
    assert is_media_conversion("mp4", "jpg")
    assert is_media_conversion("gif", "mp4")
    assert not is_media_conversion("gif", "png")
    assert not is_media_conversion("png", "jpg")
