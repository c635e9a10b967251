"""The `fib` codec's byte formats: word tokens, the spelling stream, Fibonacci phrases."""
