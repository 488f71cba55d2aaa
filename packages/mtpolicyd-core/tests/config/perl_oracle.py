"""Perl's own Config::General, run as the oracle our parser is compared with."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from mtpolicyd_core.config.tree import Block, Setting

# Reads config paths on stdin, answers one JSON line each: the parse as nested
# [key, value] pairs (options as mtpolicyd's ParseConfig call sees them) or the error.
_SCRIPT = r"""
use strict; use warnings;
use Config::General; use Tie::IxHash; use JSON::PP;
$| = 1;
my $json = JSON::PP->new->ascii;
sub pairs {
    my ($hash) = @_;
    return [ map { my $v = $hash->{$_}; [ $_, ref($v) eq 'HASH' ? pairs($v) : $v ] } keys %$hash ];
}
while (my $path = <STDIN>) {
    chomp $path;
    local $SIG{__WARN__} = sub {};
    tie my %config, 'Tie::IxHash';
    my $ok = eval {
        %config = Config::General::ParseConfig(
            -AllowMultiOptions => 'no', -ConfigFile => $path, -Tie => 'Tie::IxHash');
        1;
    };
    if ($ok) { print $json->encode({ ok => pairs(\%config) }), "\n"; }
    else { my $error = "$@"; $error =~ s/\s+/ /g; print $json->encode({ error => $error }), "\n"; }
}
"""


def perl_config_general_available() -> bool:
    """Whether perl with Config::General, Tie::IxHash and JSON::PP can run here."""
    if shutil.which("perl") is None:
        return False
    check = subprocess.run(
        ["perl", "-MConfig::General", "-MTie::IxHash", "-MJSON::PP", "-e", "1"],
        capture_output=True,
        check=False,
    )
    return check.returncode == 0


class PerlConfigGeneral:
    """A long-running perl process answering parse requests."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["perl", "-e", _SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="latin-1",
        )

    def parse(self, path: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(path + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


def perl_shape(block: Block) -> list[Any]:
    """Our tree in the shape Config::General builds: named blocks grouped under their kind."""
    shaped: dict[str, Any] = {}
    for entry in block.entries:
        if isinstance(entry, Setting):
            shaped[entry.key] = entry.value
        elif entry.name is None:
            shaped[entry.kind] = perl_shape(entry)
        else:
            shaped.setdefault(entry.kind, {})[entry.name] = perl_shape(entry)
    return _pairs(shaped)


def _pairs(shaped: dict[str, Any]) -> list[Any]:
    return [[key, _pairs(value) if isinstance(value, dict) else value] for key, value in shaped.items()]


def normalize_perl(pairs: list[Any]) -> list[Any]:
    """Perl's answer with undef (a key without value) read as the empty string, as we do."""
    return [
        [key, normalize_perl(value) if isinstance(value, list) else ("" if value is None else value)]
        for key, value in pairs
    ]
