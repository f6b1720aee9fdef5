"""The audio/video engine: FFmpeg in a sandbox, probing first. ``planner`` is pure (a probe and options to
FFmpeg arguments and units); ``engine`` is the adapter that probes, runs a plan and checks its output."""
