"""Predictors (LLM, n-gram, match, bias head, mixer), the model registry and the llama.cpp backend."""
