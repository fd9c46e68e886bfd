"""R-226 against the real server (gunicorn): an answer given before the body was read — a 413 from
Content-Length, a 401 decided from the headers — reaches the client, and the keep-alive connection
stays usable. The server reads and discards the body up to 1 MiB; past that it says
`Connection: close` (and the client opens a new connection) instead of dropping the socket under it.

Before: 20 oversized posts on one keep-alive connection, as `requests`/`httpx` send them, met
"server disconnected without sending a response" after the first: gunicorn drains at most 64 KiB
of an unread body and then closes a connection its answer had announced as keep-alive."""

import http.client
import json
import socket

import pytest

from tests.e2e_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_BYTES = 65536
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        live = LiveServer(log_name=".e2e-early-answers.log")
    yield live
    live.stop()


def body_of(size: int) -> bytes:
    text = json.dumps({"name": "x" * size})
    return text.encode()[:size - 2] + b'"}' if len(text) > size else text.encode()


def post_many(server, path: str, size: int, times: int, headers=None) -> list[tuple[int, str, str]]:
    """`times` POSTs of `size` bytes in a row on ONE client connection (reopened only when the server
    says Connection: close, as http.client and requests do): (status, error code, Connection header)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    answers = []
    try:
        for _ in range(times):
            connection.request("POST", path, body=body_of(size),
                               headers={"Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            payload = json.loads(response.read())
            answers.append((response.status, payload["error"]["code"], response.getheader("Connection")))
    finally:
        connection.close()
    return answers


def test_20_oversized_posts_on_one_keep_alive_connection_all_get_413_r226(server):
    answers = post_many(server, "/api/v1/merchants", 100_000, 20)

    assert answers == [(413, "PAYLOAD_TOO_LARGE", "keep-alive")] * 20


def test_a_body_of_the_limit_answered_from_headers_alone_keeps_the_connection_r226(server):
    # 401 before the body is read (no token); exactly 64 KiB, the size gunicorn gives up draining at.
    answers = post_many(server, "/api/v1/merchants", MAX_BYTES, 20)

    assert answers == [(401, "INVALID_TOKEN", "keep-alive")] * 20


def send_head_of_a_huge_post(server, declared: int) -> bytes:
    """A client that reads the answer while it is still sending: the headers announce `declared` bytes,
    only the first 16 KiB follow. Returns everything the server sent until it closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(f"POST /api/v1/merchants HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {declared}\r\n\r\n".encode() + b"x" * 16384)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received


def test_past_1_mib_the_413_says_connection_close_and_reading_stops_r226(server):
    for _ in range(5):
        # The server answers from the headers without waiting for the 2 MiB, then closes.
        answer = send_head_of_a_huge_post(server, 2 * MIB)

        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), answer[:300]
        assert b"\r\nConnection: close" in head
        assert b'"code": "PAYLOAD_TOO_LARGE"' in body or b'"code":"PAYLOAD_TOO_LARGE"' in body, body
    # The next client is served as usual.
    assert post_many(server, "/api/v1/merchants", 100_000, 2) == [(413, "PAYLOAD_TOO_LARGE", "keep-alive")] * 2
