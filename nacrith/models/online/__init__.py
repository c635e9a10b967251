"""Online predictors mixed with the LLM: bias, n-gram, match, mixer, line column, neural cache."""
