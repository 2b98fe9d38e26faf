"""SPDY/3.1 framing, the wire format `kubectl port-forward` speaks (pure: bytes in, frames out).

Why SPDY at all: client-go's port-forward multiplexes one error and one data stream per forwarded TCP
connection over a single upgraded connection with moby/spdystream. Since kubectl 1.31 that SPDY byte stream
travels inside WebSocket binary messages (subprotocol `SPDY/3.1+portforward.k8s.io`), but the frames are
the same (draft-mbelshe-httpbis-spdy-00, "SPDY Protocol - Draft 3.1"):

    control frame: |1| version(15)=3 | type(16) | flags(8) | length(24) | payload
    data frame:    |0| stream id(31)            | flags(8) | length(24) | payload

Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are `count(32)` then `len(32) name len(32) value` pairs
(several values of one name joined by NUL), compressed with one zlib stream per direction for the whole
connection, primed with the SPDY/3 dictionary and sync-flushed after each block. So a `Framer` holds both
zlib contexts and must see every frame of its connection, in order.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Union

VERSION = 3

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
# RST_STREAM status codes
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, UNSUPPORTED_VERSION, CANCEL, INTERNAL_ERROR = 1, 2, 3, 4, 5, 6
MAX_DATA_LENGTH = (1 << 24) - 1


def _dictionary() -> bytes:
    """The SPDY/3 header compression dictionary (spec section 2.6.10.1): length-prefixed common header
    names and values, then a tail of concatenated status lines, dates and content types."""
    words = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
             "accept-ranges age allow authorization cache-control connection content-base content-encoding "
             "content-language content-length content-location content-md5 content-range content-type date "
             "etag expect expires from host if-match if-modified-since if-none-match if-range "
             "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
             "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
             "user-agent vary via warning www-authenticate method get status").split()
    words += ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
    tail = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
            "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
            "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
            "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
            "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
            "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
            "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in words) + tail.encode()


DICTIONARY = _dictionary()

Headers = dict[str, list[str]]


class SpdyError(Exception):
    """The peer sent something that is not SPDY/3 (the connection cannot go on)."""


@dataclass
class DataFrame:
    stream_id: int
    data: bytes = b""
    flags: int = 0


@dataclass
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0
    associated_id: int = 0
    priority: int = 0
    slot: int = 0


@dataclass
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass
class RstStream:
    stream_id: int
    status: int
    flags: int = 0


@dataclass
class Settings:
    entries: list[tuple[int, int, int]] = field(default_factory=list)  # (flags, id, value)
    flags: int = 0


@dataclass
class Ping:
    id: int
    flags: int = 0


@dataclass
class GoAway:
    last_good_stream_id: int
    status: int = 0
    flags: int = 0


@dataclass
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass
class WindowUpdate:
    stream_id: int
    delta: int
    flags: int = 0


Frame = Union[DataFrame, SynStream, SynReply, RstStream, Settings, Ping, GoAway, HeadersFrame, WindowUpdate]


def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block; names lowercased as SPDY/3 requires."""
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        n, v = name.lower().encode(), "\x00".join(values).encode()
        out += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos, headers = 4, {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (n,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            if pos > len(block):
                raise SpdyError("truncated header block")
            headers.setdefault(name.lower(), []).extend(value.split("\x00"))
        return headers
    except (struct.error, UnicodeDecodeError) as e:
        raise SpdyError(f"bad header block: {e}") from e


def _control(ftype: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload


class Framer:
    """Encodes frames to send and parses received bytes, for one connection (one zlib context each way)."""

    def __init__(self) -> None:
        self._compress = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY,
                                          DICTIONARY)
        self._decompress = zlib.decompressobj(zdict=DICTIONARY)
        self._buf = bytearray()

    def _compressed(self, headers: Headers) -> bytes:
        block = encode_header_block(headers)
        return self._compress.compress(block) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        f = frame
        if isinstance(f, DataFrame):
            if len(f.data) > MAX_DATA_LENGTH:
                raise ValueError("data frame too large")
            return struct.pack(">II", f.stream_id & 0x7FFFFFFF, (f.flags << 24) | len(f.data)) + f.data
        if isinstance(f, SynStream):
            head = struct.pack(">IIBB", f.stream_id & 0x7FFFFFFF, f.associated_id & 0x7FFFFFFF,
                               (f.priority & 7) << 5, f.slot)
            return _control(SYN_STREAM, f.flags, head + self._compressed(f.headers))
        if isinstance(f, SynReply):
            return _control(SYN_REPLY, f.flags, struct.pack(">I", f.stream_id & 0x7FFFFFFF)
                            + self._compressed(f.headers))
        if isinstance(f, HeadersFrame):
            return _control(HEADERS, f.flags, struct.pack(">I", f.stream_id & 0x7FFFFFFF)
                            + self._compressed(f.headers))
        if isinstance(f, RstStream):
            return _control(RST_STREAM, f.flags, struct.pack(">II", f.stream_id & 0x7FFFFFFF, f.status))
        if isinstance(f, Settings):
            body = struct.pack(">I", len(f.entries)) + b"".join(
                struct.pack(">II", (fl << 24) | (i & 0xFFFFFF), v) for fl, i, v in f.entries)
            return _control(SETTINGS, f.flags, body)
        if isinstance(f, Ping):
            return _control(PING, f.flags, struct.pack(">I", f.id))
        if isinstance(f, GoAway):
            return _control(GOAWAY, f.flags, struct.pack(">II", f.last_good_stream_id & 0x7FFFFFFF, f.status))
        if isinstance(f, WindowUpdate):
            return _control(WINDOW_UPDATE, f.flags, struct.pack(">II", f.stream_id & 0x7FFFFFFF,
                                                                 f.delta & 0x7FFFFFFF))
        raise TypeError(f"not a SPDY frame: {frame!r}")

    def feed(self, data: bytes) -> list[Frame]:
        """Frames completed by *data* (bytes arrive in arbitrary pieces: WebSocket messages, TCP reads)."""
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word, flags_len = struct.unpack_from(">II", self._buf, 0)
            flags, length = flags_len >> 24, flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            if not word & 0x80000000:
                frames.append(DataFrame(word & 0x7FFFFFFF, payload, flags))
                continue
            version, ftype = (word >> 16) & 0x7FFF, word & 0xFFFF
            if version != VERSION:
                raise SpdyError(f"unsupported SPDY version {version}")
            frame = self._control_frame(ftype, flags, payload)
            if frame is not None:
                frames.append(frame)
        return frames

    def _headers(self, block: bytes) -> Headers:
        try:
            return decode_header_block(self._decompress.decompress(block))
        except zlib.error as e:
            raise SpdyError(f"header block: {e}") from e

    def _control_frame(self, ftype: int, flags: int, p: bytes) -> Frame | None:
        try:
            if ftype == SYN_STREAM:
                sid, assoc, prio, slot = struct.unpack_from(">IIBB", p, 0)
                return SynStream(sid & 0x7FFFFFFF, self._headers(p[10:]), flags, assoc & 0x7FFFFFFF, prio >> 5, slot)
            if ftype in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", p, 0)
                cls = SynReply if ftype == SYN_REPLY else HeadersFrame
                return cls(sid & 0x7FFFFFFF, self._headers(p[4:]), flags)
            if ftype == RST_STREAM:
                sid, status = struct.unpack_from(">II", p, 0)
                return RstStream(sid & 0x7FFFFFFF, status, flags)
            if ftype == SETTINGS:
                (n,) = struct.unpack_from(">I", p, 0)
                entries = []
                for k in range(n):
                    fid, value = struct.unpack_from(">II", p, 4 + 8 * k)
                    entries.append((fid >> 24, fid & 0xFFFFFF, value))
                return Settings(entries, flags)
            if ftype == PING:
                return Ping(struct.unpack_from(">I", p, 0)[0], flags)
            if ftype == GOAWAY:
                sid, status = struct.unpack_from(">II", p, 0) if len(p) >= 8 else (*struct.unpack_from(">I", p, 0), 0)
                return GoAway(sid & 0x7FFFFFFF, status, flags)
            if ftype == WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", p, 0)
                return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF, flags)
        except struct.error as e:
            raise SpdyError(f"short control frame type {ftype}: {e}") from e
        return None  # unknown control frame types are ignored (spec 2.2.1)
