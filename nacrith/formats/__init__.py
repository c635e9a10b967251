"""Archive container, text/binary segmentation, codec registry and front ends."""
