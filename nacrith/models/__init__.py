"""Predictors (LLM, n-gram, match, bias head, mixer), the model registry, the llama.cpp backend."""
