"""The image engine: Pillow, libvips, pypdfium2, resvg (bytes in, bytes out; no AWS, no HTTP)."""
