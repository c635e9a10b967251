"""Entropy coding: the 24-bit range coder and the probability quantizer (no model knowledge)."""
