"""The websocket client against a server written byte by byte (every frame is the test's), and
against two independent servers (websockets and aiohttp)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import fcntl
import hashlib
import random
import ssl
import struct
import termios
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import ServerConnection, serve

from schemahub.errors import ConfigError, HandshakeError, WebSocketClosed
from schemahub.venues.wsclient import QUEUE_HIGH_BYTES, WebSocket, open_websocket
from tests.local_http import local_app

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX = 1 << 20


def frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, mask: bytes = b"") -> bytes:
    """A frame as a server (or, with ``mask``, a client) writes it."""
    first = (0x80 if fin else 0) | rsv | opcode
    masked = 0x80 if mask else 0
    size = len(payload)
    if size < 126:
        head = bytes([first, masked | size])
    elif size < 65536:
        head = bytes([first, masked | 126]) + struct.pack("!H", size)
    else:
        head = bytes([first, masked | 127]) + struct.pack("!Q", size)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + payload


async def read_client_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One frame the client sent, unmasked; every client frame must be masked."""
    first, second = await reader.readexactly(2)
    assert second & 0x80, "client frames are masked"
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", await reader.readexactly(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4)
    data = await reader.readexactly(size)
    return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def upgrade(key: str, extra: str = "") -> bytes:
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
    ).encode()


async def read_request(reader: asyncio.StreamReader) -> dict[str, str]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    lines = head.split("\r\n")
    assert lines[0].startswith("GET /stream?x=1 HTTP/1.1")
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}


@asynccontextmanager
async def raw_venue(script: Script, answer: bool = True) -> AsyncIterator[str]:
    """A server on 127.0.0.1 that answers the upgrade (when ``answer``) then runs ``script``."""
    done: list[BaseException] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if answer:
                request = await read_request(reader)
                assert request["upgrade"] == "websocket"
                assert request["sec-websocket-version"] == "13"
                writer.write(upgrade(request["sec-websocket-key"]))
            await script(reader, writer)
        except BaseException as exc:  # the test sees what went wrong on the server side
            done.append(exc)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/stream?x=1"
    finally:
        server.close()
        await server.wait_closed()
    errors = [e for e in done if not isinstance(e, ConnectionError | asyncio.IncompleteReadError)]
    assert not errors, errors


async def read_all(ws: WebSocket) -> tuple[list[str | bytes], WebSocketClosed]:
    """Every message until the websocket ends, and how it ended."""
    got: list[str | bytes] = []
    with pytest.raises(WebSocketClosed) as ended:
        while True:
            await asyncio.wait_for(ws.wait_messages(), 10)
            got += ws.take_messages(1000)
    return got, ended.value


async def test_frames_of_every_length_split_across_any_reads_arrive_whole_and_in_order() -> None:
    texts = ["", "a" * 125, "é" * 63, "b" * 126, "c" * 65535, "d" * 65536, '{"p": "ü"}']
    wire = b"".join(frame(0x1, t.encode()) for t in texts) + frame(0x8, struct.pack("!H", 1000))
    rng = random.Random(7)

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        at = 0
        while at < len(wire):  # pieces of 1 to 3,000 bytes, so headers split too
            step = rng.choice([1, 2, 3, 9, 3000])
            writer.write(wire[at : at + step])
            await writer.drain()
            at += step
        assert await read_client_frame(reader) == (0x8, struct.pack("!H", 1000))

    async with raw_venue(trickle) as url:
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        got, ended = await read_all(ws)
        await ws.close(2)
    assert got == texts
    assert ended.code == 1000 and ended.clean


async def test_a_fragmented_message_with_a_ping_inside_is_one_message_and_the_ping_answered() -> (
    None
):
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(0x1, b'{"a":', fin=False) + frame(0x9, b"hi"))
        writer.write(frame(0x0, b' "b"', fin=False) + frame(0x0, b"}") + frame(0x2, b"\x00\xff"))
        assert await read_client_frame(reader) == (0xA, b"hi")  # the pong echoes the ping
        writer.write(frame(0x8, struct.pack("!H", 1001) + b"going away"))
        assert await read_client_frame(reader) == (0x8, struct.pack("!H", 1001))

    async with raw_venue(script) as url:
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        got, ended = await read_all(ws)
    assert got == ['{"a": "b"}', b"\x00\xff"]
    assert (ended.code, ended.reason, ended.clean) == (1001, "going away", True)


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (frame(0x1, b"x", mask=b"abcd"), 1002),  # servers never mask
        (frame(0x1, b"x", rsv=0x40), 1002),  # no extension was agreed
        (frame(0x3, b"x"), 1002),  # reserved opcode
        (frame(0x0, b"x"), 1002),  # nothing to continue
        (frame(0x9, b"x" * 126), 1002),  # control frames are short
        (frame(0x1, b"x", fin=False) + frame(0x1, b"y"), 1002),  # a new message mid-message
        (frame(0x1, b"\xff\xfe"), 1007),  # text that is not UTF-8
        (frame(0x1, b"a", fin=False) + frame(0x0, b"\xc3", fin=True), 1007),
        (bytes([0x81, 127]) + struct.pack("!Q", MAX + 1), 1009),  # refused from the header
        (frame(0x1, b"a" * 900_000, fin=False) + frame(0x0, b"a" * 200_000), 1009),
    ],
    ids=[
        "masked",
        "rsv",
        "opcode",
        "continuation",
        "long-ping",
        "interleaved",
        "utf8",
        "utf8-fragmented",
        "too-big",
        "too-big-fragmented",
    ],
)
async def test_a_venue_breaking_the_protocol_is_closed_with_the_rfc_code(
    wire: bytes, code: int
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(0x1, b"before") + wire)
        opcode, payload = await read_client_frame(reader)
        assert (opcode, struct.unpack("!H", payload[:2])[0]) == (0x8, code)

    async with raw_venue(script) as url:
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        got, ended = await read_all(ws)
    assert got == ["before"]  # what came before the violation is still delivered
    assert ended.code == code and not ended.clean


async def test_a_close_frame_without_a_code_is_a_clean_close_answered_with_1000() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(0x1, b"last") + frame(0x8, b""))
        assert await read_client_frame(reader) == (0x8, struct.pack("!H", 1000))

    async with raw_venue(script) as url:
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        got, ended = await read_all(ws)
    assert got == ["last"]
    assert ended.code == 1005 and ended.clean


async def test_a_dropped_connection_ends_with_1006_after_what_was_sent() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(0x1, b"one") + frame(0x1, b"two") + frame(0x1, b"thr"))
        await writer.drain()

    async with raw_venue(script) as url:
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        got, ended = await read_all(ws)
    assert got == ["one", "two", "thr"]  # the drop is reported after every whole frame
    assert ended.code == 1006 and not ended.clean


@pytest.mark.parametrize(
    ("answer", "match", "status"),
    [
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "HTTP 404 Not Found", 404),
        (b"HTTP/1.1 429 Too Many Requests\r\n\r\n", "HTTP 429", 429),
        (
            b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: bm9wZQ==\r\n\r\n",
            "does not match",
            None,
        ),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response", None),
        (b"HTTP/1.1 101 OK\r\nUpgrade: h2c\r\n\r\n", "not 'websocket'", None),
    ],
)
async def test_a_refused_or_wrong_upgrade_raises_a_handshake_error_with_the_status(
    answer: bytes, match: str, status: int | None
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        await reader.read()  # until the client hangs up

    async with raw_venue(script, answer=False) as url:
        with pytest.raises(HandshakeError, match=match) as refused:
            await open_websocket(url, max_size=MAX, open_timeout=5)
    assert refused.value.status == status


async def test_an_extension_that_was_not_offered_is_refused() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        assert "sec-websocket-extensions" not in request  # compression is not offered
        writer.write(upgrade(request["sec-websocket-key"], "Sec-WebSocket-Extensions: x\r\n"))
        await reader.read()

    async with raw_venue(script, answer=False) as url:
        with pytest.raises(HandshakeError, match="sec-websocket-extensions"):
            await open_websocket(url, max_size=MAX, open_timeout=5)


async def test_a_server_that_hangs_up_during_the_handshake_is_a_handshake_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    async with raw_venue(script, answer=False) as url:
        with pytest.raises(HandshakeError, match="during the handshake"):
            await open_websocket(url, max_size=MAX, open_timeout=5)


@pytest.mark.parametrize("url", ["http://venue/ws", "ws://", "wss://:443/x", "ws://h:99999/"])
async def test_a_url_that_is_not_a_websocket_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="websocket URL"):
        await open_websocket(url, max_size=MAX, open_timeout=5)


async def test_text_sent_is_one_masked_frame_and_close_waits_for_the_venue() -> None:
    texts = ['{"method":"SUBSCRIBE"}', "ü" * 40_000]

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for text in texts:
            assert await read_client_frame(reader) == (0x1, text.encode())
        assert await read_client_frame(reader) == (0x8, struct.pack("!H", 1000))
        writer.write(frame(0x8, struct.pack("!H", 1000)))

    async with raw_venue(script) as url:
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        for text in texts:
            await ws.send(text)
        await ws.close(10)
        assert ws.transport is not None and ws.transport.is_closing()
        with pytest.raises(WebSocketClosed):
            await ws.send("after the close")


async def test_close_gives_up_on_a_venue_that_never_answers() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_client_frame(reader)  # the close, left unanswered
        await reader.read()

    async with raw_venue(script) as url:
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        await ws.close(0.2)
        assert ws.transport is not None and ws.transport.is_closing()


async def test_reading_stops_while_too_much_waits_and_resumes_once_it_is_taken() -> None:
    chunk = b"x" * 60_000
    count = 2 * QUEUE_HIGH_BYTES // len(chunk)

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(count):
            writer.write(frame(0x1, chunk))
        await writer.drain()
        await reader.read()

    async with raw_venue(script) as url:
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        taken = 0
        for _ in range(1000):  # nobody takes: the queue fills, then reading stops
            if ws.reading_paused:
                break
            await asyncio.sleep(0.01)
        assert ws.reading_paused
        assert ws.transport is not None and not ws.transport.is_reading()
        while taken < count:
            await asyncio.wait_for(ws.wait_messages(), 10)
            taken += len(ws.take_messages(count))
            assert not ws.reading_paused or taken < count
        assert ws.transport.is_reading()
        await ws.close(1)


def unread_bytes(fd: int) -> int:
    """Bytes waiting in a socket's receive queue, not yet read (FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


async def test_holding_reading_leaves_frames_in_the_socket_until_released() -> None:
    go = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await go.wait()
        writer.write(frame(0x1, b"held"))
        await writer.drain()
        await reader.read()

    async with raw_venue(script) as url:
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        ws.hold_reading()
        go.set()
        assert ws.transport is not None
        fd = ws.transport.get_extra_info("socket").fileno()
        for _ in range(1000):  # until the frame sits in the kernel's receive queue
            if unread_bytes(fd):
                break
            await asyncio.sleep(0.01)
        assert unread_bytes(fd)
        assert ws.take_messages(10) == []  # still in the kernel
        ws.release_reading()
        await asyncio.wait_for(ws.wait_messages(), 10)
        assert ws.take_messages(10) == ["held"]
        assert ws.receive_buffer_bytes() is not None
        await ws.close(1)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost signed by its own key: (certificate, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_wss_checks_the_certificate_and_carries_frames_over_tls(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)

    async def handler(conn: ServerConnection) -> None:
        await conn.send(await conn.recv())
        await conn.send("x" * 70_000)
        await conn.close()

    async with serve(handler, "localhost", 0, ssl=server_tls) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"wss://localhost:{port}/"
        with pytest.raises(ssl.SSLCertVerificationError):  # not signed by a system CA
            await open_websocket(url, max_size=MAX, open_timeout=5)
        trusting = ssl.create_default_context(cafile=cert_file)
        ws = await open_websocket(url, max_size=MAX, open_timeout=5, tls=trusting)
        await ws.send("over tls")
        got, ended = await read_all(ws)
    assert got == ["over tls", "x" * 70_000]
    assert ended.clean


# -- interoperability: two independent servers -------------------------------------------


async def test_a_websockets_server_fragments_pings_and_closes_with_us() -> None:
    pong: list[float] = []

    async def handler(conn: ServerConnection) -> None:
        await conn.send(["frag", "mented"])  # one message in three frames
        await conn.send(b"\x01\x02")
        pong.append(await asyncio.wait_for(await conn.ping(b"p"), 5))
        await conn.send("last")
        await conn.close(1011, "done here")

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await open_websocket(f"ws://127.0.0.1:{port}/", max_size=MAX, open_timeout=5)
        got, ended = await read_all(ws)
    assert got == ["fragmented", b"\x01\x02", "last"]
    assert len(pong) == 1  # our pong answered its ping
    assert (ended.code, ended.reason) == (1011, "done here")


async def test_an_aiohttp_server_reads_what_we_send_and_sees_our_close() -> None:
    seen: list[object] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            seen.append(message.data)
            await ws.send_str(f"echo {message.data}")
        seen.append(ws.close_code)
        return ws

    async with local_app({"/ws": handler}) as base:
        url = base.replace("http://", "ws://") + "/ws"
        ws = await open_websocket(url, max_size=MAX, open_timeout=5)
        await ws.send("hello")
        await asyncio.wait_for(ws.wait_messages(), 5)
        assert ws.take_messages(10) == ["echo hello"]
        await ws.close(5)
    assert seen == ["hello", 1000]
