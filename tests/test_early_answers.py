"""R-226 against the real server (gunicorn): an answer given before the body was read — a 413 from
Content-Length, a 401 decided from the headers — reaches the client, and the keep-alive connection
stays usable. The server reads and discards the body up to 1 MiB; past that it says
`Connection: close` (and the client opens a new connection) instead of dropping the socket under it.

Before: 20 oversized posts on one keep-alive connection, as `requests`/`httpx` send them, met
"server disconnected without sending a response" after the first: gunicorn drains at most 64 KiB
of an unread body and then closes a connection its answer had announced as keep-alive."""

import http.client
import json

import pytest

from tests.e2e_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_BYTES = 65536
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(django_db_blocker):
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


def test_past_1_mib_the_413_says_connection_close_and_the_next_post_still_gets_its_answer_r226(server):
    answers = post_many(server, "/api/v1/merchants", 2 * MIB, 5)

    assert answers == [(413, "PAYLOAD_TOO_LARGE", "close")] * 5
