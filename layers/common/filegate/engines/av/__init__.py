"""The audio/video engine: FFmpeg in a sandbox, probing first."""
