"""Entropy coding of label and colour maps (spec/sgc.md §8-9)."""
