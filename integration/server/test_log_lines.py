"""Log lines an existing parser of the original's log still matches, with vhost, instance and plugin."""

from __future__ import annotations

import contextlib
import re

from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.ports import free_port
from integration.server.daemon_helpers import request

FAILING = """<VirtualHost {port}>
  name = "first"
  <Plugin tolerated>
    module = "Proxy"
    host = "127.0.0.1:{closed}"
    on_error = "continue"
  </Plugin>
  <Plugin forward>
    module = "Proxy"
    host = "127.0.0.1:{closed}"
  </Plugin>
</VirtualHost>
"""
#: the original's lines (Mail::MtPolicyd and its PluginChain)
ERROR_LINE = re.compile(r"mtpolicyd\[\d+\]: error while processing request: plugin forward failed: ")
CONTINUE_LINE = re.compile(r"mtpolicyd\[\d+\]: plugin tolerated failed: ")
REQUEST_LINE = re.compile(
    r"mtpolicyd\[\d+\]: first: instance=7, type=smtpd_access_policy, t=\d+ms, plugin=nothing, result="
)


def test_plugin_failures_are_worded_as_the_original_with_vhost_instance_and_plugin(
    python_mtpolicyd: DaemonFactory,
) -> None:
    daemon = python_mtpolicyd(FAILING, closed=free_port())
    with contextlib.suppress(ConnectionError):  # the request fails: no answer
        daemon.request(request("192.0.2.1", "7"))
    log = daemon.wait_for_log("error while processing request")
    [error] = [line for line in log.splitlines() if ERROR_LINE.search(line)]
    assert error.endswith("(vhost=first, instance=7, plugin=forward)")
    [tolerated] = [line for line in log.splitlines() if CONTINUE_LINE.search(line)]
    assert tolerated.endswith("(vhost=first, instance=7, plugin=tolerated)")
    assert "None" not in log
    assert "'" not in error  # no Python repr


def test_request_line_is_the_originals(python_mtpolicyd: DaemonFactory) -> None:
    config = """<VirtualHost {port}>
  name = "first"
  <Plugin nothing>
    module = "Action"
    action = "dunno"
  </Plugin>
</VirtualHost>
"""
    daemon = python_mtpolicyd(config)
    assert daemon.request(request("192.0.2.1", "7")) == ["action=dunno"]
    log = daemon.wait_for_log("first: instance=7")
    [line] = [line for line in log.splitlines() if REQUEST_LINE.search(line)]
    assert line.endswith("result=dunno")  # nothing appended: the line names vhost and instance itself
