"""Conversion engines."""
