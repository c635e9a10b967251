"""The long-range pass: repeats farther back than a chunk can see, replaced by references.

Chunks are coded independently, so a codec never sees a repeat whose first copy lies in
another chunk. Before chunking, the pipeline can turn a member's input into a *long-range
stream*: repeats of at least `MIN_MATCH` bytes that lie between a minimum distance (about what
a chunk sees) and the window (``1 << window_log``) back become references, and the rest stays
as literal bytes, in order, so the chunk codecs still see text as text. The chunks then code
the stream; decoding the chunks gives the stream back and `LongRangeDecoder` expands it with
plain copies. Only the encoder searches; the decoder follows the references. Whether a
member gets the pass is decided on the blocks read ahead (`lookahead`): a sampled search
probes them first, and the full search runs only where the probe finds enough far repeats.

Stream format, version 2 (frozen; a change is a new version byte). Numbers are unsigned LEB128
(`nacrith.formats.varint`) unless a width is given; CRC32 is zlib's::

    stream  := version (1 byte, 2)  window_log (1 byte, 20..30)  frame*  end
    end     := varint 0
    frame   := size           varint, bytes the frame expands to (1 .. MAX_FRAME)
               count          varint, matches in the frame (at most size // MIN_MATCH)
               table_length   varint, bytes of the table
               literal_length varint, bytes of the literals
               literals       the bytes not covered by a match, in order
               table          3 * count varints: first every match's literal run (literal
                              bytes before it, counted from the end of the previous match or
                              the frame's start), then every match's distance (0: the previous
                              match's distance in this frame), then every match's length minus
                              MIN_MATCH
               crc32          4 bytes, little-endian: CRC32 of the frame's expanded bytes

Version 1 (read, no longer written) is the same with the table before the literals; version 2
puts the literals first, so a chunk that starts with a frame starts with the input's own bytes
(the chunk codecs judge a chunk by samples of its start).

A match copies `length` bytes from `distance` bytes before the position where it starts
(1 <= distance <= 2^window_log and not before the start of the stream's output; a distance
shorter than the length repeats the copied bytes, as in LZ77). A frame's literal runs plus
its match lengths plus the trailing literals equal its size. The decoder keeps the last
``1 << window_log`` output bytes and one frame; it checks every field against these bounds and
each frame's CRC32 before writing a byte of it, so a damaged stream raises
`CorruptDataError` (or `FormatError` for an unknown version) and never yields wrong bytes.
"""

from nacrith.formats.long_range.finder import MIN_MATCH, Match, MatchFinder
from nacrith.formats.long_range.stream import (
    DEFAULT_WINDOW_LOG,
    MAX_FRAME,
    MAX_WINDOW_LOG,
    MIN_WINDOW_LOG,
    STREAM_VERSION,
    LongRangeDecoder,
    LongRangeEncoder,
    Stats,
)

__all__ = [
    "DEFAULT_WINDOW_LOG",
    "MAX_FRAME",
    "MAX_WINDOW_LOG",
    "MIN_MATCH",
    "MIN_WINDOW_LOG",
    "STREAM_VERSION",
    "LongRangeDecoder",
    "LongRangeEncoder",
    "Match",
    "MatchFinder",
    "Stats",
]
