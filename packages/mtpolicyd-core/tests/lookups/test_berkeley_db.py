from pathlib import Path

import pytest
from berkeley_data import write_hash_db
from mtpolicyd_core.lookups.berkeley_db import BerkeleyHash


def test_reads_values_by_key(tmp_path: Path) -> None:
    path = write_hash_db(tmp_path / "map.db", {b"a": b"1", b"b\0": b"OK\0"})
    table = BerkeleyHash(str(path))
    assert table.get(b"a") == b"1"
    assert table.get(b"b\0") == b"OK\0"
    assert table.get(b"missing") is None


def test_missing_file_fails_on_first_use_naming_it(tmp_path: Path) -> None:
    table = BerkeleyHash(str(tmp_path / "nope.db"))
    with pytest.raises(OSError, match=r"Cannot open .*nope\.db"):
        table.get(b"a")
