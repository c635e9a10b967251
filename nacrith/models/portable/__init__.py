"""Portable inference engine: a llama forward pass whose logits have the same bits everywhere.

`exact` holds machine-independent elementary functions, `weights` reads a GGUF into exact
fixed-point matrices, `engine` runs the model with a KV cache per stream.
"""

from nacrith.models.portable.engine import PortableModel

__all__ = ["PortableModel"]
