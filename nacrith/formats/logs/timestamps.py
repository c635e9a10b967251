"""Timestamps in log lines: formats, detection, exact re-rendering, and query bounds.

A chunk's *time format* is the one of `FORMATS` found in most of its first lines. The codec
replaces every timestamp of that format which re-renders byte for byte (a real date, a right
weekday, canonical padding) with a marker byte (0x03) followed by its POSIX second in decimal,
so times become one numeric column whose deltas are small and which equals other time columns
of the line up to a constant. The chunk's *time range* spans every match of the format with
plausible fields, so it contains the time of each line: its first such match, or, for a line
without one (a stack trace), the time of the line before it.

Times are POSIX seconds read as UTC: offsets such as ``+0200`` are ignored, and formats
without a year (syslog ``Jun 14 15:16:01``) are read in year `DEFAULT_YEAR`, so a query written
in the log's own spelling compares correctly. In the codec, fractions of a second stay ordinary
digits; a query compares exact instants (`line_instant`, `parse_bound`): the fraction written
right after a timestamp's seconds (``01:31:03,747``, ``01:31:03.5``) counts, and bounds keep
theirs, so ``01:31:03.747`` lies within [``01:31:03.5``, ``01:31:04``].
"""

from __future__ import annotations

import calendar
import datetime as _dt
import decimal
import numbers
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

__all__ = [
    "DEFAULT_YEAR",
    "FORMATS",
    "MAX_EPOCH",
    "TIME_MARK",
    "Instant",
    "TimeFormat",
    "detect_format",
    "line_instant",
    "line_time",
    "mark_times",
    "parse_bound",
    "parse_time",
]

Instant = int | Fraction  # exact POSIX seconds

DEFAULT_YEAR = 2000  # a leap year, so Feb 29 of a year-less log is a date
MAX_EPOCH = 253402300799  # 9999-12-31 23:59:59
TIME_MARK = b"\x03"
_MONTHS = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun")
_MONTHS += (b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec")
_DAYS = (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")  # tm_wday order
_MONTH_NUM = {m: i + 1 for i, m in enumerate(_MONTHS)}
_DAY_NUM = {d: i for i, d in enumerate(_DAYS)}

# field letter -> (regex group, %-format for rendering)
_FIELDS = {
    "Y": (rb"(\d{4})", b"%04d"),  # year
    "y": (rb"(\d\d)", b"%02d"),  # year - 2000
    "M": (rb"(\d\d)", b"%02d"),  # month number
    "N": (b"(" + b"|".join(_MONTHS) + b")", b"%s"),  # month name
    "D": (rb"(\d\d)", b"%02d"),  # day, zero padded
    "d": (rb"([ \d]\d)", b"%2d"),  # day, space padded
    "W": (b"(" + b"|".join(_DAYS) + b")", b"%s"),  # weekday name
    "h": (rb"(\d\d)", b"%02d"),
    "m": (rb"(\d\d)", b"%02d"),
    "s": (rb"(\d\d)", b"%02d"),
    "e": (rb"(1\d{9})", b"%d"),  # POSIX seconds
}
_TOKEN = re.compile(r"\{(\w)\}")
_FRACTION = re.compile(rb"[.,](\d+)")
_ISO_FRACTION = re.compile(r":\d\d[.,](\d+)")


@dataclass
class TimeFormat:
    """One timestamp spelling, written as a template such as ``{Y}-{M}-{D} {h}:{m}:{s}``."""

    name: str
    template: str
    lead: bytes = rb"(?<!\d)"  # guards so a timestamp is not cut out of a longer number
    tail: bytes = rb"(?!\d)"
    fields: str = field(init=False)
    regex: re.Pattern[bytes] = field(init=False)
    width: int | None = field(init=False)  # length of every spelling (None: it varies)
    digit_runs: frozenset[int] = field(init=False)  # lengths of the digit runs it can spell
    _render: bytes = field(init=False)

    def __post_init__(self) -> None:
        parts = _TOKEN.split(self.template)
        self.fields = "".join(parts[1::2])
        rx, fmt = [], []
        for i, part in enumerate(parts):
            if i % 2:
                rx.append(_FIELDS[part][0])
                fmt.append(_FIELDS[part][1])
            else:
                rx.append(re.escape(part.encode()))
                fmt.append(part.encode().replace(b"%", b"%%"))
        self.regex = re.compile(self.lead + b"(" + b"".join(rx) + b")" + self.tail)
        self._render = b"".join(fmt)
        samples = [self.render(s) for s in (981173106, 1009281600, 1445191307)]
        self.width = None if "e" in self.fields else len(samples[0])
        self.digit_runs = frozenset(len(r) for s in samples for r in re.findall(rb"\d+", s))

    def seconds(self, groups: Sequence[Sequence[bytes]]) -> tuple[np.ndarray, np.ndarray]:
        """(POSIX seconds, plausible?) of many matches, given column-wise group texts."""
        n = len(groups[0]) if groups else 0
        get = {}
        for name, col in zip(self.fields, groups):
            if name == "N":
                get["M"] = np.fromiter((_MONTH_NUM[v] for v in col), np.int64, count=n)
            elif name == "W":
                get["W"] = np.fromiter((_DAY_NUM[v] for v in col), np.int64, count=n)
            else:
                get[name.upper() if name == "d" else name] = np.fromiter(
                    map(int, col), np.int64, count=n
                )
        if "e" in get:
            return get["e"], np.ones(n, dtype=bool)
        year = get["Y"] if "Y" in get else 2000 + get["y"] if "y" in get else None
        if year is None:
            year = np.full(n, DEFAULT_YEAR, dtype=np.int64)
        m, d, hh, mm, ss = get["M"], get["D"], get["h"], get["m"], get["s"]
        ok = (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31) & (hh <= 23) & (mm <= 59) & (ss <= 60)
        return _days(year, m, d) * 86400 + hh * 3600 + mm * 60 + ss, ok

    def second(self, values: Sequence[bytes]) -> int | None:
        """`seconds` of one match, given its group texts: its POSIX second, or None when the
        fields are not plausible."""
        get: dict[str, int] = {}
        for name, text in zip(self.fields, values):
            if name == "N":
                get["M"] = _MONTH_NUM[text]
            elif name != "W":
                get[name.upper() if name == "d" else name] = int(text)
        if "e" in get:
            return get["e"]
        year = get["Y"] if "Y" in get else 2000 + get["y"] if "y" in get else DEFAULT_YEAR
        m, d, hh, mm, ss = get["M"], get["D"], get["h"], get["m"], get["s"]
        if not (1 <= m <= 12 and 1 <= d <= 31 and hh <= 23 and mm <= 59 and ss <= 60):
            return None
        yy = year - (m <= 2)
        era = yy // 400
        yoe = yy - era * 400
        doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
        days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
        return days * 86400 + hh * 3600 + mm * 60 + ss

    def exact(self, groups: Sequence[Sequence[bytes]], secs: np.ndarray) -> np.ndarray:
        """Which matches `render` reproduces byte for byte (given their `seconds`)."""
        get = dict(zip(self.fields, groups))
        n = secs.size
        if "e" in get:
            return np.ones(n, dtype=bool)
        days = np.floor_divide(secs, 86400)
        ok = (secs >= 0) & (secs <= MAX_EPOCH)
        y, m, d = _civil(days)
        fields = {"Y": y, "y": y - 2000, "M": m, "D": d, "d": d}
        for name, col in get.items():
            if name in fields:
                ok &= fields[name] == np.fromiter(map(int, col), np.int64, count=n)
            if name == "d":  # space padded: " 4" or "14", never "04"
                ok &= np.fromiter((v[0] != 0x30 for v in col), bool, count=n)
            if name == "W":
                wday = np.fromiter((_DAY_NUM[v] for v in col), np.int64, count=n)
                ok &= (days + 3) % 7 == wday
        tod = secs % 86400
        ok &= np.fromiter(map(int, get["s"]), np.int64, count=n) == tod % 60  # no :60
        if "y" in get:
            ok &= (y >= 2000) & (y <= 2099)
        return ok

    def render(self, seconds: int) -> bytes:
        """The spelling of `seconds` (0 <= seconds <= MAX_EPOCH) in this format."""
        if self.fields == "e":
            return b"%d" % seconds
        t = time.gmtime(seconds)
        vals = {
            "Y": t.tm_year,
            "y": t.tm_year - 2000,
            "M": t.tm_mon,
            "N": _MONTHS[t.tm_mon - 1],
            "D": t.tm_mday,
            "d": t.tm_mday,
            "W": _DAYS[t.tm_wday],
            "h": t.tm_hour,
            "m": t.tm_min,
            "s": t.tm_sec,
        }
        return self._render % tuple(vals[f] for f in self.fields)


def _days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (vectorised, any day number)."""
    yy = y - (m <= 2)
    era = np.floor_divide(yy, 400)
    yoe = yy - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of `_days`: (year, month, day)."""
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (m <= 2), m, d


FORMATS: list[TimeFormat] = [
    TimeFormat("iso", "{Y}-{M}-{D} {h}:{m}:{s}"),
    TimeFormat("isoT", "{Y}-{M}-{D}T{h}:{m}:{s}"),
    TimeFormat("dashdot", "{Y}-{M}-{D}-{h}.{m}.{s}"),
    TimeFormat("slash4", "{Y}/{M}/{D} {h}:{m}:{s}"),
    TimeFormat("slash2", "{y}/{M}/{D} {h}:{m}:{s}"),
    TimeFormat("compact", "{y}{M}{D} {h}{m}{s}"),
    TimeFormat("ctime", "{W} {N} {D} {h}:{m}:{s} {Y}", lead=b""),
    TimeFormat("access", "{D}/{N}/{Y}:{h}:{m}:{s}"),
    TimeFormat("syslog", "{N} {d} {h}:{m}:{s}", lead=b""),
    TimeFormat("monthday", "{M}.{D} {h}:{m}:{s}", lead=rb"(?<![\d.])", tail=rb"(?![\d.])"),
    TimeFormat("epoch", "{e}", lead=rb"(?<![\d.])", tail=rb"(?![\d.])"),
    # variants, tried after the above (format indices are stored in payloads: append only)
    TimeFormat("ctime2", "{W} {N} {d} {h}:{m}:{s} {Y}", lead=b""),
    TimeFormat("syslog0", "{N} {D} {h}:{m}:{s}", lead=b""),
]
_PROBE_LINES = 64
_PROBE_WIDTH = 120


def detect_format(lines: Sequence[bytes]) -> int | None:
    """Index in `FORMATS` of the format that spells exactly a timestamp near the start of most
    of `lines` (on a tie, the one whose timestamps are longer, then the first), or None."""
    probe = [ln[:_PROBE_WIDTH] for ln in lines[:_PROBE_LINES] if ln.strip()]
    if not probe:
        return None
    best, best_score = None, (0, 0)
    for i, fmt in enumerate(FORMATS):
        found = [m for m in map(fmt.regex.search, probe) if m is not None]
        if len(found) < best_score[0] or not found:
            continue
        groups = [[m.group(j + 2) for m in found] for j in range(len(fmt.fields))]
        secs, plausible = fmt.seconds(groups)
        exact = plausible & fmt.exact(groups, secs)
        score = (int(exact.sum()), sum(len(m.group(1)) for m, e in zip(found, exact) if e))
        if score > best_score:
            best, best_score = i, score
    return best if best_score[0] * 2 >= len(probe) else None


def mark_times(text: bytes, fmt: int) -> tuple[bytes, tuple[int, int] | None]:
    """Replace each timestamp of format `fmt` that re-renders exactly by TIME_MARK + its POSIX
    second in decimal; returns the new text and (first, last) second over all plausible
    matches (exact or not)."""
    f = FORMATS[fmt]
    parts = f.regex.split(text)
    step = len(f.fields) + 2
    whole = parts[1::step]
    if not whole:
        return text, None
    groups = [parts[2 + j :: step] for j in range(len(f.fields))]
    secs, plausible = f.seconds(groups)
    if not plausible.any():
        return text, None
    exact = plausible & f.exact(groups, secs)
    parts[1::step] = [
        b"\x03%d" % s if e else w for s, e, w in zip(secs.tolist(), exact.tolist(), whole)
    ]
    for j in range(len(f.fields)):
        parts[2 + j :: step] = [b""] * len(whole)
    span = secs[plausible]
    return b"".join(parts), (int(span.min()), int(span.max()))


def line_time(line: bytes, fmt: int) -> int | None:
    """POSIX seconds of the first plausible timestamp of format `fmt` in `line`, or None."""
    f = FORMATS[fmt]
    for m in f.regex.finditer(line):
        groups = [[g] for g in m.groups()[1:]]
        secs, ok = f.seconds(groups)
        if ok[0]:
            return int(secs[0])
    return None


def line_instant(line: bytes, fmt: int) -> Instant | None:
    """The exact time of the first plausible timestamp of format `fmt` in `line`: its POSIX
    second plus the fraction written right after its seconds field (``03,747`` or ``03.5``),
    or None. Its whole part is `line_time`."""
    f = FORMATS[fmt]
    seconds_group = f.fields.index("s") + 2 if "s" in f.fields else None
    for m in f.regex.finditer(line):
        t = f.second(m.groups()[1:])
        if t is None:
            continue
        if seconds_group is not None:
            frac = _FRACTION.match(line, m.end(seconds_group))
            if frac is not None:
                digits = frac.group(1)
                return Fraction(t * 10 ** len(digits) + int(digits), 10 ** len(digits))
        return t
    return None


def parse_bound(value: object) -> Instant:
    """A query bound as exact POSIX seconds: a number (int, float, Fraction, Decimal), a
    `datetime` (naive means UTC), a `date`, or a string in ISO 8601 or in any format of
    `FORMATS` (so a log's own spelling works, year-less ones in `DEFAULT_YEAR`). A string's
    fraction of a second is kept exactly, whatever its number of digits."""
    if isinstance(value, bool):
        raise TypeError("a time bound cannot be a bool")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (numbers.Rational, decimal.Decimal)):
        return Fraction(value)
    if isinstance(value, numbers.Real):
        return Fraction(float(value))
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        whole = calendar.timegm(value.utctimetuple())
        return whole + Fraction(value.microsecond, 10**6) if value.microsecond else whole
    if isinstance(value, _dt.date):
        return calendar.timegm((value.year, value.month, value.day, 0, 0, 0))
    if not isinstance(value, str):
        raise TypeError(f"a time bound must be a number, datetime or string, not {value!r}")
    text = value.strip()
    try:
        when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:
        frac = _ISO_FRACTION.search(text)
        if frac is None:
            return parse_bound(when)
        digits = frac.group(1)
        whole = parse_bound(when.replace(microsecond=0))
        return whole + Fraction(int(digits), 10 ** len(digits))
    raw = text.encode("utf-8", "replace")
    for i in range(len(FORMATS)):
        t = line_instant(raw, i)
        if t is not None:
            return t
    raise ValueError(f"cannot read {value!r} as a time (use ISO 8601, e.g. 2015-10-18 18:01:47)")


def parse_time(value: object) -> float:
    """`parse_bound` as a float (which may round a fraction of a second)."""
    return float(parse_bound(value))
