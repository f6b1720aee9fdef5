"""The PDF tools (docs/pdf-tools.md): a PDF made from a PDF by plain surgery, never re-rendered.

pikepdf (qpdf) moves pages, rotates, merges, encrypts and cleans objects; the image engine re-encodes
embedded images (compress); Tesseract, run as a subprocess, makes the text layer of pages without text (OCR).
Every input is defused on the way in (``defuse``: actions, JavaScript and embedded files dropped), and every
run happens in a forked child with a deadline and a memory ceiling (``isolation``), so a hostile file ends in
``conversion_failed``, never a hang.

Modules: ``document`` (open, limits, save), ``defuse``, ``pages`` (pages and rotate), ``merge``, ``compress``,
``ocr``, ``pdfa``, ``isolation``, ``engine`` (filegate.engines.Engine). Pure: no AWS and no HTTP.
"""
