import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer

VERDICTS = {
    "127.0.0.1": "accept",
    "201.216.207.129": "permfail",
    "192.0.2.7": "tempfail",
    "192.0.2.9": "bogus",
}


class Ctipd(BaseHTTPRequestHandler):
    """Answers like ctipd: the verdict for the posted ``x-ctch-ip`` and a reference id."""

    bodies: list[str] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.bodies.append(body)
        ip = body.split("x-ctch-ip: ")[1].split("\r\n")[0]
        if ip == "500.0.0.0":
            self.send_error(500)
            return
        reply = f"x-ctch-dm-action:{VERDICTS[ip]}\r\nx-ctch-refid:tid=abc\r\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def ct_ip_rep(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> Iterator[Callable[..., Plugin]]:
    server = HTTPServer(("127.0.0.1", 0), Ctipd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/ctipd/iprep"

    def build(**settings: str) -> Plugin:
        return build_plugin(block("commtouch", module="CtIpRep", url=url, **settings))

    yield build
    server.shutdown()


def request(ip: str, session: Session | None = None) -> Request:
    return Request({"instance": "abcd", "client_address": ip}, {} if session is None else session)


async def test_ct_ip_rep_accepted_ip_passes(ct_ip_rep: Callable[..., Plugin]) -> None:
    assert await ct_ip_rep().run(request("127.0.0.1")) == []


async def test_ct_ip_rep_rejects_permfail_with_reference(ct_ip_rep: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    assert await ct_ip_rep(permfail_score="5").run(request("201.216.207.129", session)) == [
        PluginResult(
            "reject 550 delivery from 201.216.207.129 is rejected. Check at "
            "http://www.commtouch.com/Site/Resources/Check_IP_Reputation.asp. Reference code: tid=abc",
            abort=True,
        )
    ]
    assert session["score"] == 5
    assert session["commtouch-result"] == ["permfail", "tid=abc"]


async def test_ct_ip_rep_defers_tempfail(ct_ip_rep: Callable[..., Plugin]) -> None:
    result = await ct_ip_rep(defer_message="450 later %IP% %REFID%").run(request("192.0.2.7"))
    assert result == [PluginResult("defer 450 later 192.0.2.7 tid=abc", abort=True)]


async def test_ct_ip_rep_permfail_in_defer_mode_uses_defer_message(ct_ip_rep: Callable[..., Plugin]) -> None:
    result = await ct_ip_rep(permfail_mode="defer", defer_message="450 %IP%").run(request("201.216.207.129"))
    assert result == [PluginResult("defer 450 201.216.207.129", abort=True)]


async def test_ct_ip_rep_passive_only_scores_once(ct_ip_rep: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    plugin = ct_ip_rep(permfail_mode="passive", permfail_score="5")
    assert await plugin.run(request("201.216.207.129", session)) == []
    assert await plugin.run(request("201.216.207.129", session)) == []
    assert session["score"] == 5


async def test_ct_ip_rep_sends_key_when_configured(ct_ip_rep: Callable[..., Plugin]) -> None:
    Ctipd.bodies.clear()
    await ct_ip_rep(key="secret").run(request("127.0.0.1"))
    assert Ctipd.bodies == [
        "x-ctch-request-type: classifyip\r\nx-ctch-pver: 1.0\r\nx-ctch-key: secret\r\n"
        "\r\nx-ctch-ip: 127.0.0.1\r\n"
    ]


async def test_ct_ip_rep_disabled_per_user(ct_ip_rep: Callable[..., Plugin]) -> None:
    assert await answer(ct_ip_rep(uc_enabled="ctrep"), request("201.216.207.129", {"ctrep": "off"})) == []


@pytest.mark.parametrize(
    ("ip", "error"), [("500.0.0.0", "error while accessing"), ("192.0.2.9", "unknown ctiprep")]
)
async def test_ct_ip_rep_service_errors_fail_the_request(
    ct_ip_rep: Callable[..., Plugin], ip: str, error: str
) -> None:
    with pytest.raises((RuntimeError, ValueError), match=error):
        await ct_ip_rep().run(request(ip))


async def test_ct_ip_rep_needs_client_address(ct_ip_rep: Callable[..., Plugin]) -> None:
    with pytest.raises(ValueError, match="no client_address"):
        await ct_ip_rep(enabled="off").run(Request({}, {}))


async def test_ct_ip_rep_score_written_0_0_is_added_as_in_perl(ct_ip_rep: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    await ct_ip_rep(permfail_mode="passive", permfail_score="0.0").run(request("201.216.207.129", session))
    assert session["score_detail"] == "commtouch=0.0"


async def test_ct_ip_rep_score_0_adds_nothing(ct_ip_rep: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    await ct_ip_rep(permfail_mode="passive", permfail_score="0").run(request("201.216.207.129", session))
    assert "score_detail" not in session
