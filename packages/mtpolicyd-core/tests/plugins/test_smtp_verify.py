import socketserver
import threading
from collections.abc import Callable, Iterator

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer


class SmtpServer(socketserver.ThreadingTCPServer):
    """The scripted SMTP server: the commands it received; whether it offers STARTTLS."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, SmtpHandler)
        self.commands: list[str] = []
        self.tls = True


class SmtpHandler(socketserver.StreamRequestHandler):
    """A scripted SMTP server: addresses containing ``bad`` get 550, ``later`` 450."""

    server: SmtpServer

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 mock ESMTP")
        while line := self.rfile.readline().decode().strip():
            self.server.commands.append(line[:4].upper() + line[4:])
            verb = line[:4].upper()
            if verb == "EHLO":
                self.reply(
                    "250-mock\r\n250-SIZE 1000\r\n"
                    + ("250-STARTTLS\r\n" if self.server.tls else "")
                    + "250 8BITMIME"
                )
            elif verb in ("MAIL", "RCPT"):
                if "bad" in line:
                    self.reply("550 5.1.1 <x>: Recipient address rejected")
                elif "later" in line:
                    self.reply("450-4.2.0 try\r\n450 4.2.0 again later")
                else:
                    self.reply("250 2.1.0 Ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 no")


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(("127.0.0.1", 0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def verify(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], smtp_server: SmtpServer
) -> Callable[..., Plugin]:
    def make(**settings: str) -> Plugin:
        return build_plugin(
            block(
                "smtpverify",
                module="SMTPVerify",
                host="127.0.0.1",
                port=str(smtp_server.server_address[1]),
                **settings,
            )
        )

    return make


SETTINGS = {
    "perm_fail_action": "reject %MSG%",
    "temp_fail_action": "defer %MSG%",
    "has_starttls_score": "-5",
    "no_starttls_score": "5",
    "perm_fail_score": "10",
}


def request(**attributes: str) -> Request:
    return Request(
        {
            "sender": "good-sender@testdomain.tld",
            "recipient": "good-rcpt@testdomain.tld",
            "size": "10240",
            **attributes,
        },
        None,
    )


async def test_smtp_verify_accepted_address_scores_starttls(
    verify: Callable[..., Plugin], smtp_server: SmtpServer
) -> None:
    session: Session = {}
    plugin = verify(**SETTINGS)
    assert await plugin.run(Request(request().attributes, session)) == []
    assert session["score"] == -5
    assert session["score_detail"] == "smtpverify-good-sender@testdomain.tld-starttls=-5"
    assert "MAIL FROM:<good-rcpt@testdomain.tld> SIZE=10240" in smtp_server.commands
    assert "RCPT TO:<good-sender@testdomain.tld>" in smtp_server.commands


async def test_smtp_verify_refused_address_answers_perm_fail_action_with_message(
    verify: Callable[..., Plugin],
) -> None:
    session: Session = {}
    result = await verify(**SETTINGS).run(
        Request(request(sender="bad-rcpt@testdomain.tld").attributes, session)
    )
    assert result == [PluginResult("reject 5.1.1 <x>: Recipient address rejected", abort=True)]
    assert session["score"] == 5


async def test_smtp_verify_temporary_failure_keeps_multiline_message(verify: Callable[..., Plugin]) -> None:
    result = await verify(**SETTINGS).run(request(sender="later@testdomain.tld"))
    assert result == [PluginResult("defer 4.2.0 try\n4.2.0 again later", abort=True)]


async def test_smtp_verify_fields_can_be_set_the_intuitive_way(
    verify: Callable[..., Plugin], smtp_server: SmtpServer
) -> None:
    plugin = verify(sender_field="sender", recipient_field="recipient", **SETTINGS)
    action = (await plugin.run(request(recipient="bad@testdomain.tld")))[0].action
    assert action is not None
    assert action.startswith("reject")


async def test_smtp_verify_fixed_sender_and_no_size_without_valid_size(
    verify: Callable[..., Plugin], smtp_server: SmtpServer
) -> None:
    await verify(sender="probe@example.org").run(request(size="big"))
    assert "MAIL FROM:<probe@example.org>" in smtp_server.commands


async def test_smtp_verify_no_starttls_score(verify: Callable[..., Plugin], smtp_server: SmtpServer) -> None:
    smtp_server.tls = False
    session: Session = {}
    await verify(**SETTINGS).run(Request(request().attributes, session))
    assert session["score"] == 5


async def test_smtp_verify_once_per_address_and_mail(
    verify: Callable[..., Plugin], smtp_server: SmtpServer
) -> None:
    plugin = verify(**SETTINGS)
    session: Session = {}
    await plugin.run(Request(request().attributes, session))
    assert await plugin.run(Request(request().attributes, session)) == []
    assert sum(command.startswith("RCPT") for command in smtp_server.commands) == 1


async def test_smtp_verify_unreachable_server_gives_no_action(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("v", module="SMTPVerify", host="127.0.0.1", port="1", **SETTINGS))
    assert await plugin.run(request()) == []


async def test_smtp_verify_disabled(verify: Callable[..., Plugin], smtp_server: SmtpServer) -> None:
    assert await answer(verify(enabled="off"), request()) == []
    assert smtp_server.commands == []
