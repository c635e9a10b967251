"""Adaptive context models of the `fib` codec (no LLM)."""
