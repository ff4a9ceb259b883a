"""Evaluation harness: rate, semantic fidelity and realism against classical codecs."""
