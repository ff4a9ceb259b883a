"""Generative decoders and segmenters (torch, diffusers, transformers; imported lazily)."""
