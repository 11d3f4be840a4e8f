"""The editor server under load: 200 requests from 8 clients against 127.0.0.1, a quarter of them
hostile (paths outside the server's folders, malformed and oversized bodies, over-long fields,
out-of-range numbers). Every request is answered (no dropped connection, no timeout), the
over-long fields are refused in one status line, no file outside the server's folders is served,
the downloads folder stays bounded, and the server is up and editing at the end."""

import json
import random
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import ui_server

from styleclip_jax.ui.app import FIELD_CHARS, KEPT_EDITS

REPO = Path(__file__).resolve().parents[1]
CLIENTS, REQUESTS = 8, 200
SECRET = "styleclip-load-test-secret"  # in a file outside the server's folders

pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    secret = tmp_path_factory.mktemp("outside") / "secret.txt"
    secret.write_text(SECRET)
    log = tmp_path_factory.mktemp("ui") / "server.log"
    with ui_server(log) as (url, process):
        folder = Path(re.search(r"files in (\S+)\)", log.read_text()).group(1))
        yield url, process, secret, folder
    assert not folder.exists(), "the server's temporary folder outlived it"


def _http(url: str, data: bytes | None = None, headers=None) -> tuple[int, bytes]:
    """(status, body) of one request; an HTTP error status is an answer too."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read(1 << 20)
    except urllib.error.HTTPError as e:
        return e.code, e.read(1 << 20)


def _hostile(url: str, secret: Path, i: int) -> tuple[int, bytes]:
    """One hostile request (of eight kinds, by ``i``)."""
    kind = i % 8
    outside = [str(secret), "/etc/passwd", str(REPO / "README.md")][i % 3]
    quoted = urllib.parse.quote(outside)
    if kind == 0:
        return _http(f"{url}gradio_api/file={outside}")
    if kind == 1:
        return _http(f"{url}gradio_api/file=..%2F..%2F..%2F..%2F..%2F..{quoted}")
    if kind == 2:
        return _http(f"{url}file={outside}")
    if kind == 3:
        return _http(f"{url}static/../../../../../..{quoted}")
    if kind == 4:
        return _http(f"{url}gradio_api/queue/join", b"{not json", {"Content-Type": "application/json"})
    if kind == 5:
        body = json.dumps({"data": ["x" * 2_000_000], "fn_index": 0, "session_hash": "h"}).encode()
        return _http(f"{url}gradio_api/queue/join", body, {"Content-Type": "application/json"})
    if kind == 6:
        return _http(
            f"{url}gradio_api/call/load", json.dumps({"data": [10**40]}).encode(), {"Content-Type": "application/json"}
        )
    return _http(f"{url}gradio_api/upload", b"--x\r\n\r\n", {"Content-Type": "multipart/form-data; boundary=x"})


def test_two_hundred_requests_from_eight_clients(server):
    from gradio_client import Client

    url, process, secret, folder = server
    answers: list[tuple[str, object]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(c: int):
        rng = random.Random(c)
        api = Client(url, verbose=False, download_files=False)
        for i in range(REQUESTS // CLIENTS):
            try:
                if i % 4 == 3:  # a quarter hostile
                    status, body = _hostile(url, secret, c * 31 + i)
                    with lock:
                        answers.append(("hostile", (status, body)))
                    continue
                if i % 4 == 0:
                    out = api.predict(rng.randrange(64), api_name="/load")
                elif i % 8 == 1:
                    long_keep = "a|b\n" * (FIELD_CHARS // 3)
                    args = ("object", "a green object", 3.0, 0.1, False, "", long_keep, "", 0, False)
                    out = api.predict(*args, api_name="/global_edit")
                else:
                    colour = rng.choice(["red", "green", "blue", "yellow"])
                    args = ("object", f"a {colour} object", 3.0, 0.1, False, "", "", "", 0, False)
                    out = api.predict(*args, api_name="/global_edit")
                with lock:
                    answers.append(("edit" if i % 4 else "load", out))
            except Exception as e:  # a dropped request: the test's failure, reported below
                with lock:
                    failures.append(f"client {c} request {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert not failures, failures[:5]
    assert len(answers) == REQUESTS
    for kind, out in answers:
        if kind == "hostile":
            status, body = out
            assert SECRET.encode() not in body and b"root:x:0:0" not in body and b"# styleclip-jax" not in body
            assert b"Traceback" not in body, (status, body[:300])
    statuses = [out[1] for kind, out in answers if kind == "edit" and isinstance(out, tuple | list)]
    refused = [s for s in statuses if "at most" in str(s)]
    edited = [s for s in statuses if "channel(s)" in str(s)]
    assert refused and all("**Cannot edit:**" in str(s) for s in refused)
    assert len(edited) >= REQUESTS // 4  # the well-formed edits were done
    assert process.poll() is None, "the server died"
    status, _ = _http(url)
    assert status == 200
    assert len(list((folder / "edits").glob("edit_*"))) <= 2 * KEPT_EDITS  # a PNG and an .npz each
    files = [f["path"] for kind, out in answers if kind == "edit" and isinstance(out[2], list) for f in out[2]]
    assert files and all(f.startswith(str(folder)) for f in files), files[:2]  # Gradio's copies too
