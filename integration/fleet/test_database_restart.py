"""MariaDB restarted under a running daemon: each worker's pooled connections are checked before use
(``pool_pre_ping``), so the first requests after the restart are answered by the chain, not failed."""

from __future__ import annotations

from collections.abc import Callable

from integration.fixtures.config_text import quota_and_accounting, sql_connection, vhost
from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.plugin import MariaDBDatabase

ACCOUNTING = (
    "min_servers = 2\nmin_spare_servers = 1\nmax_spare_servers = 2\nmax_servers = 4\n"
    + sql_connection(pool_size=2, max_overflow=1)
    + vhost("port", "quota", quota_and_accounting(1000))
)


def mail(number: int) -> dict[str, str]:
    return {
        "request": "smtpd_access_policy",
        "protocol_state": "END-OF-MESSAGE",
        "sender": "restart@example.net",
        "instance": f"R{number:05X}",
        "size": "10",
    }


def test_requests_right_after_a_database_restart_are_answered_by_the_chain(
    python_mtpolicyd: Callable[..., MtpolicydDaemon], mariadb_database: MariaDBDatabase
) -> None:
    server = mariadb_database.server
    daemon = python_mtpolicyd(
        ACCOUNTING, dsn=mariadb_database.dsn, db_user=server.user, db_password=server.password
    )
    connections = [daemon.connect() for _ in range(4)]  # kept alive: they reach several workers
    for number, conn in enumerate(connections):
        assert conn.request(mail(number)) == ["action=dunno"]
    server.stop()
    server.start()  # same port and data; every pooled connection of the workers is now dead
    answers = [conn.request(mail(10 + number)) for number, conn in enumerate(connections)]
    answers += [daemon.request(mail(20 + number)) for number in range(8)]
    assert answers == [["action=dunno"]] * 12
    for conn in connections:
        conn.close()
    with server.admin() as admin, admin.cursor() as cursor:
        cursor.execute(f"SELECT count FROM `{mariadb_database.name}`.acct_sender")
        assert cursor.fetchall() == ((16,),)
