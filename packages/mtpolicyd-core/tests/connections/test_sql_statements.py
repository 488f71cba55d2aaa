from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.sql import SqlConnection
from mtpolicyd_core.connections.sql_statements import execute_sql, translate_placeholders


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqlConnection]:
    url = f"sqlite:///{tmp_path / 'statements.db'}"
    connection = SqlConnection(ConnectionConfig("db", "Sql", {"url": url}))
    await execute_sql(
        connection, "CREATE TABLE zumsel (id INTEGER PRIMARY KEY AUTOINCREMENT, ip varchar(255))"
    )
    yield connection
    await connection.aclose()


async def test_execute_sql_binds_question_marks_and_reports_rows(database: SqlConnection) -> None:
    await execute_sql(database, "INSERT INTO zumsel (ip) VALUES (?)", ["192.0.2.1"])
    result = await execute_sql(database, "SELECT ip, 'a?b' AS q FROM zumsel WHERE ip=?", ["192.0.2.1"])
    assert result.first_mapping() == {"ip": "192.0.2.1", "q": "a?b"}
    assert (await execute_sql(database, "UPDATE zumsel SET ip=? WHERE ip=?", ["x", "nope"])).rowcount == 0


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a FROM t WHERE a=?", "SELECT a FROM t WHERE a=%s"),
        ("SELECT '?' , ? FROM t", "SELECT '?' , %s FROM t"),
        ("SELECT `a?` FROM t WHERE b LIKE '10%' AND c=?", "SELECT `a?` FROM t WHERE b LIKE '10%%' AND c=%s"),
        ("SELECT 'it''s ?', \"x?\" -- ?\n, ? /* ? */", "SELECT 'it''s ?', \"x?\" -- ?\n, %s /* ? */"),
        ("SELECT 'a\\'?', ?", "SELECT 'a\\'?', %s"),
        ("SELECT 5 % 2, ?", "SELECT 5 %% 2, %s"),
    ],
)
def test_question_marks_outside_quotes_and_comments_become_format_placeholders(
    sql: str, expected: str
) -> None:
    assert translate_placeholders(sql, "format") == expected
    assert translate_placeholders(sql, "qmark") == sql


def test_numeric_paramstyle_numbers_the_placeholders() -> None:
    assert translate_placeholders("a=? AND b=?", "numeric") == "a=:1 AND b=:2"


def test_unknown_paramstyle_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported SQL parameter style named"):
        translate_placeholders("a=?", "named")


@given(st.text(alphabet="ab?%' -\n", max_size=40))
def test_translation_only_changes_placeholders_and_percent_signs(sql: str) -> None:
    translated = translate_placeholders(sql, "format")
    assert translated.replace("%%", "%").replace("%s", "?") == sql.replace("%s", "?")
    assert translated.count("%s") - translated.count("%%s") <= sql.count("?")


@given(st.lists(st.sampled_from(["a", " ", "=", "?", "'x'", "1"]), max_size=12))
def test_translation_keeps_one_placeholder_per_unquoted_question_mark(tokens: list[str]) -> None:
    sql = "".join(tokens)
    assert translate_placeholders(sql, "format").count("%s") == tokens.count("?")
