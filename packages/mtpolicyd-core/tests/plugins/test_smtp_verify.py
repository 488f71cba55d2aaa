import socketserver
import threading

import pytest
from chain_answer import answer
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


class SmtpHandler(socketserver.StreamRequestHandler):
    """A scripted SMTP server: addresses containing ``bad`` get 550, ``later`` 450."""

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
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
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpHandler)
    server.daemon_threads = True
    server.commands, server.tls = [], True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def verify(block, build_plugin, smtp_server):
    def make(**settings):
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


def request(**attributes):
    return Request(
        {
            "sender": "good-sender@testdomain.tld",
            "recipient": "good-rcpt@testdomain.tld",
            "size": "10240",
            **attributes,
        },
        None,
    )


async def test_smtp_verify_accepted_address_scores_starttls(verify, smtp_server):
    session = {}
    plugin = verify(**SETTINGS)
    assert await plugin.run(Request(request().attributes, session)) == []
    assert session["score"] == -5
    assert session["score_detail"] == "smtpverify-good-sender@testdomain.tld-starttls=-5"
    assert "MAIL FROM:<good-rcpt@testdomain.tld> SIZE=10240" in smtp_server.commands
    assert "RCPT TO:<good-sender@testdomain.tld>" in smtp_server.commands


async def test_smtp_verify_refused_address_answers_perm_fail_action_with_message(verify):
    session = {}
    result = await verify(**SETTINGS).run(
        Request(request(sender="bad-rcpt@testdomain.tld").attributes, session)
    )
    assert result == [PluginResult("reject 5.1.1 <x>: Recipient address rejected", abort=True)]
    assert session["score"] == 5


async def test_smtp_verify_temporary_failure_keeps_multiline_message(verify):
    result = await verify(**SETTINGS).run(request(sender="later@testdomain.tld"))
    assert result == [PluginResult("defer 4.2.0 try\n4.2.0 again later", abort=True)]


async def test_smtp_verify_fields_can_be_set_the_intuitive_way(verify, smtp_server):
    plugin = verify(sender_field="sender", recipient_field="recipient", **SETTINGS)
    assert (await plugin.run(request(recipient="bad@testdomain.tld")))[0].action.startswith("reject")


async def test_smtp_verify_fixed_sender_and_no_size_without_valid_size(verify, smtp_server):
    await verify(sender="probe@example.org").run(request(size="big"))
    assert "MAIL FROM:<probe@example.org>" in smtp_server.commands


async def test_smtp_verify_no_starttls_score(verify, smtp_server):
    smtp_server.tls = False
    session = {}
    await verify(**SETTINGS).run(Request(request().attributes, session))
    assert session["score"] == 5


async def test_smtp_verify_once_per_address_and_mail(verify, smtp_server):
    plugin = verify(**SETTINGS)
    session = {}
    await plugin.run(Request(request().attributes, session))
    assert await plugin.run(Request(request().attributes, session)) == []
    assert sum(command.startswith("RCPT") for command in smtp_server.commands) == 1


async def test_smtp_verify_unreachable_server_gives_no_action(block, build_plugin):
    plugin = build_plugin(block("v", module="SMTPVerify", host="127.0.0.1", port="1", **SETTINGS))
    assert await plugin.run(request()) == []


async def test_smtp_verify_disabled(verify, smtp_server):
    assert await answer(verify(enabled="off"), request()) == []
    assert smtp_server.commands == []
