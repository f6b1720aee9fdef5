"""The document engine: office documents and text converted by a warm, sandboxed LibreOffice (docs/api.md
"Documents").

Pure: ``inspection`` (zips and XML checked and defused before conversion), ``text`` (text decoded, Markdown
rendered, HTML defused). Processes: ``office`` (the warm LibreOffice of this process, restarted after N
conversions, on a hang or a crash), ``uno_converter`` (run by ``office`` under a Python that has ``uno``,
never imported), ``sandbox`` (the seccomp filter: no network), ``profile`` (the locked-down profile, baked
once: ``python -m filegate.engines.document.office DIR`` bakes it ahead, e.g. into an image). ``engine``
puts them behind filegate.engines.Engine. No storage here.
"""
