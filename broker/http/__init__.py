"""Litestar layer: parse, call the core, render."""
