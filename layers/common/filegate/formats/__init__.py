"""What a file is and what it can become: the format table and sniffing from bytes, shared by files and
conversion.

Pure: ``formats`` (the one format table that ``GET /v1/formats`` serves), ``sniff`` (recognise bytes).
"""
