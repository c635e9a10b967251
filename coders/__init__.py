"""Entropy coding: the 24-bit range coder and the probability quantizer. Knows nothing about models."""
