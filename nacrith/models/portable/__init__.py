"""Portable inference engine: a llama forward pass whose logits have the same bits everywhere.

`exact` holds machine-independent elementary functions, `weights` reads a GGUF into exact
matrices (revision 1: per-row fixed point; revision 2: `blocks`, the GGUF's own quantization
blocks with exact float32 block products), `engine` runs the model with a KV cache per stream.
"""

from nacrith.models.portable.engine import PortableModel

__all__ = ["PortableModel"]
