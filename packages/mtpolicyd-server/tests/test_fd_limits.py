"""The open-file limit raised at start and the connection cap a worker derives from it."""

from __future__ import annotations

import resource

from mtpolicyd_server.fd_limits import default_connection_cap, raise_open_file_limit


def test_soft_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
    try:
        before, after = raise_open_file_limit()
        assert before == min(256, hard)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == after
        assert hard in (after, resource.RLIM_INFINITY)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_connection_cap_leaves_descriptors_for_the_workers_own_use() -> None:
    assert default_connection_cap(256) == 192
    assert default_connection_cap(1024) == 896
    assert default_connection_cap(65536) == 57344
    assert default_connection_cap(20) == 16
