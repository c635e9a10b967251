"""The language model: llama.cpp backend, model registry, lockstep streams."""
