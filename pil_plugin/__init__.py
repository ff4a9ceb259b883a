"""Pillow plugin for .sgc files."""
