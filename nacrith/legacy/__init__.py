"""Decode-only readers of old payload versions, frozen: nothing here is used to encode."""
