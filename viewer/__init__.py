"""PyQt6 viewer for .sgc collections."""
