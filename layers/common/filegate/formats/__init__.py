"""What a file is and what it can become, shared by files, conversions and the engines. All pure.

``table`` (the one table of formats: kinds image/document/audio/video, targets, which options each pair
takes; what ``GET /v1/formats`` serves), ``options`` (the one table of options and the form and JSON parsers
derived from it), ``sniff`` and ``avsniff`` (recognise bytes).
"""
