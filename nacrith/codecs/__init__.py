"""Chunk codecs: each joins a front end (formats), predictors (models) and a coder (coders)."""
