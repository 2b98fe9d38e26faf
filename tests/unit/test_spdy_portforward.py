"""SPDY/3.1 framing (agent/spdy.py) and the port-forward session on top of it (agent/portforward.py).

The golden bytes are what the real kubectl v1.33 sent for its first forwarded connection (captured from
tests/integration/test_portforward.py): the error stream's SYN_STREAM, its immediate FIN, then the data
stream's SYN_STREAM whose header block continues the same zlib stream. Decoding them proves the SPDY/3
dictionary (the zlib header names its Adler-32, 0xe3c6a7c2) and the shared compression context.
"""
from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from agent import spdy
from agent.portforward import DialError, PortForwardSession

KUBECTL_ERROR_SYN = bytes.fromhex(
    "800300010000003e0000000100000000000078f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c606c6060"
    "c0c0c0c0590489c64c50f2663400000000ffff")
KUBECTL_ERROR_FIN = bytes.fromhex("0000000101000000")
KUBECTL_DATA_SYN = bytes.fromhex("800300010000001800000003000000000000c2aa19540e2512d60b000000ffff")


def test_dictionary_is_the_spdy3_one():
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2  # the DICTID in kubectl's zlib header above
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def test_golden_kubectl_frames_decode():
    f = spdy.Framer()
    frames = f.feed(KUBECTL_ERROR_SYN + KUBECTL_ERROR_FIN + KUBECTL_DATA_SYN)
    assert frames == [
        spdy.SynStream(1, {"streamtype": ["error"], "port": ["3000"], "requestid": ["0"]}),
        spdy.DataFrame(1, b"", spdy.FLAG_FIN),
        spdy.SynStream(3, {"streamtype": ["data"], "port": ["3000"], "requestid": ["0"]}),
    ]


def test_frames_arrive_in_any_pieces():
    """kubectl writes each frame field as its own WebSocket message; bytes may be split anywhere."""
    data = KUBECTL_ERROR_SYN + KUBECTL_ERROR_FIN + KUBECTL_DATA_SYN
    f = spdy.Framer()
    got = []
    for i in range(len(data)):
        got += f.feed(data[i:i + 1])
    assert [type(x) for x in got] == [spdy.SynStream, spdy.DataFrame, spdy.SynStream]


def test_golden_spec_frames():
    """Fixed-layout frames, byte for byte as the spec draws them."""
    f = spdy.Framer()
    assert f.encode(spdy.Ping(1)) == bytes.fromhex("8003000600000004 00000001")
    assert f.encode(spdy.RstStream(3, spdy.REFUSED_STREAM)) == bytes.fromhex("8003000300000008 00000003 00000003")
    assert f.encode(spdy.DataFrame(5, b"hi", spdy.FLAG_FIN)) == bytes.fromhex("00000005 01000002 6869")
    assert f.encode(spdy.WindowUpdate(1, 65536)) == bytes.fromhex("8003000900000008 00000001 00010000")
    assert f.encode(spdy.GoAway(7, 0)) == bytes.fromhex("8003000700000008 00000007 00000000")
    assert f.encode(spdy.Settings([(0, 7, 65536)])) == bytes.fromhex("800300040000000c 00000001 00000007 00010000")


@pytest.mark.parametrize("frame", [
    spdy.DataFrame(3, b"payload" * 100, spdy.FLAG_FIN),
    spdy.SynStream(5, {"streamtype": ["data"], "port": ["8080"], "requestid": ["7"]}, spdy.FLAG_FIN, 0, 3),
    spdy.SynReply(5, {}),
    spdy.SynReply(7, {"x": ["a", "b"]}, spdy.FLAG_FIN),
    spdy.HeadersFrame(9, {"k": ["v"]}),
    spdy.RstStream(5, spdy.CANCEL),
    spdy.Settings([(1, 4, 100), (0, 7, 65536)]),
    spdy.Ping(42),
    spdy.GoAway(11, 2),
    spdy.WindowUpdate(3, 1000),
])
def test_round_trip(frame):
    sender, receiver = spdy.Framer(), spdy.Framer()
    # Twice: the second header block is compressed against the first one's zlib state.
    for _ in range(2):
        assert receiver.feed(sender.encode(frame)) == [frame]


def test_header_block_layout_and_case():
    block = spdy.encode_header_block({"StreamType": ["data"], "v": ["a", "b"]})
    assert block == (struct.pack(">I", 2) + struct.pack(">I", 10) + b"streamtype" + struct.pack(">I", 4) + b"data"
                     + struct.pack(">I", 1) + b"v" + struct.pack(">I", 3) + b"a\x00b")
    assert spdy.decode_header_block(block) == {"streamtype": ["data"], "v": ["a", "b"]}
    with pytest.raises(spdy.SpdyError):
        spdy.decode_header_block(block[:-2])


def test_wrong_version_and_bad_compression_are_errors():
    with pytest.raises(spdy.SpdyError):
        spdy.Framer().feed(bytes.fromhex("8002000600000004 00000001"))
    with pytest.raises(spdy.SpdyError):
        spdy.Framer().feed(bytes.fromhex("8003000200000008 00000001") + b"garbage!")


def test_unknown_control_frame_is_ignored():
    assert spdy.Framer().feed(bytes.fromhex("8003000a00000002 abcd") + spdy.Framer().encode(spdy.Ping(3))) \
        == [spdy.Ping(3)]


# --- the session ------------------------------------------------------------------------------------

class Client:
    """kubectl's side: a Framer of its own over the bytes the session sends."""

    def __init__(self) -> None:
        self.framer = spdy.Framer()
        self.frames: list[spdy.Frame] = []

    async def recv(self, data: bytes) -> None:
        self.frames += self.framer.feed(data)

    def on(self, stream_id: int) -> list[spdy.Frame]:
        return [f for f in self.frames if getattr(f, "stream_id", None) == stream_id]


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client's half-close
        writer.write(b"echo:" + data)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _wait(cond, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


async def test_session_forwards_a_connection_and_closes_streams_in_order():
    server, port = await _echo_server()
    client = Client()
    dialed = []

    async def dial(p: int):
        dialed.append(p)
        return await asyncio.open_connection("127.0.0.1", port)

    session = PortForwardSession(client.recv, dial)
    try:
        hdr = {"port": ["3000"], "requestid": ["0"]}
        await session.feed(client.framer.encode(spdy.SynStream(1, {"streamtype": ["error"], **hdr})))
        await session.feed(client.framer.encode(spdy.DataFrame(1, flags=spdy.FLAG_FIN)))
        await session.feed(client.framer.encode(spdy.SynStream(3, {"streamtype": ["data"], **hdr})))
        await session.feed(client.framer.encode(spdy.DataFrame(3, b"hello")))
        await session.feed(client.framer.encode(spdy.DataFrame(3, flags=spdy.FLAG_FIN)))
        await session.feed(client.framer.encode(spdy.Ping(1)))
        await _wait(lambda: any(f.flags & spdy.FLAG_FIN for f in client.on(1) if isinstance(f, spdy.DataFrame)))
        assert dialed == [3000]
        assert client.on(1)[0] == spdy.SynReply(1) and client.on(3)[0] == spdy.SynReply(3)
        assert spdy.Ping(1) in client.frames
        data = [f for f in client.on(3) if isinstance(f, spdy.DataFrame)]
        assert b"".join(f.data for f in data) == b"echo:hello" and data[-1].flags & spdy.FLAG_FIN
        errs = [f for f in client.on(1) if isinstance(f, spdy.DataFrame)]
        assert errs == [spdy.DataFrame(1, b"", spdy.FLAG_FIN)]  # no error text
        # the data stream's FIN comes before the error stream's (kubectl waits for them in that order)
        assert client.frames.index(data[-1]) < client.frames.index(errs[-1])
    finally:
        await session.close()
        server.close()
        await server.wait_closed()


async def test_session_writes_dial_errors_on_the_error_stream():
    client = Client()

    async def dial(p: int):
        raise DialError(f"error forwarding port {p} to pod abc, uid : connection refused")

    session = PortForwardSession(client.recv, dial)
    hdr = {"port": ["3001"], "requestid": ["4"]}
    await session.feed(client.framer.encode(spdy.SynStream(9, {"streamtype": ["error"], **hdr})))
    await session.feed(client.framer.encode(spdy.SynStream(11, {"streamtype": ["data"], **hdr})))
    await _wait(lambda: len(client.on(9)) == 3)
    assert client.on(9) == [spdy.SynReply(9), spdy.DataFrame(9, b"error forwarding port 3001 to pod abc, uid : "
                                                                 b"connection refused"),
                            spdy.DataFrame(9, b"", spdy.FLAG_FIN)]
    assert client.on(11) == [spdy.SynReply(11), spdy.DataFrame(11, b"", spdy.FLAG_FIN)]
    await session.close()


async def test_session_refuses_streams_without_request_id_and_stops_on_goaway():
    client = Client()

    async def dial(p: int):
        raise AssertionError("not dialed")

    session = PortForwardSession(client.recv, dial)
    await session.feed(client.framer.encode(spdy.SynStream(1, {"streamtype": ["data"], "port": ["80"]})))
    assert client.frames == [spdy.RstStream(1, spdy.REFUSED_STREAM)]
    await session.feed(client.framer.encode(spdy.GoAway(0)))
    assert session.closed
    await session.close()
