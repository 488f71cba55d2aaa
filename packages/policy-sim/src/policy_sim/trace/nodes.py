"""Walking a YAML node tree with positions: the shape checks every trace reader needs."""

from __future__ import annotations

import yaml

from policy_sim.trace.model import Position


class TraceError(Exception):
    """A trace file is malformed; names the file and, when known, line and column."""

    def __init__(self, message: str, position: Position) -> None:
        self.message = message
        self.position = position
        super().__init__(f"{position}: {message}")


class NodeReader:
    """Checks the shapes of YAML nodes; errors carry the file, line and column of the node."""

    def __init__(self, file: str) -> None:
        self.file = file

    def where(self, node: yaml.Node) -> Position:
        mark = node.start_mark
        if mark is None:
            return Position(self.file)
        return Position(self.file, mark.line + 1, mark.column + 1)

    def fail(self, node: yaml.Node, message: str) -> TraceError:
        return TraceError(message, self.where(node))

    def mapping(self, node: yaml.Node, what: str, allowed: set[str]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        entries: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node, f"a key in {what}")
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(key_node, f"unknown key {key!r} in {what} (known: {known})")
            if key in entries:
                raise self.fail(key_node, f"duplicate key {key!r} in {what}")
            entries[key] = value_node
        return entries

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        if node.tag.endswith(":null") and node.value in ("", "~", "null", "Null", "NULL"):
            return ""
        return str(node.value)

    def number(self, node: yaml.Node, what: str) -> float:
        text = self.scalar(node, what)
        try:
            return float(text)
        except ValueError:
            raise self.fail(node, f"{what} must be a number, not {text!r}") from None

    def attributes(self, node: yaml.Node, what: str) -> tuple[tuple[str, str], ...]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping of attribute names to values")
        result = []
        for key_node, value_node in node.value:
            name = self.scalar(key_node, f"an attribute name in {what}")
            if not name or "=" in name or "\n" in name:
                raise self.fail(key_node, f"bad attribute name {name!r}")
            value = self.scalar(value_node, f"attribute {name}")
            if "\n" in value:
                raise self.fail(value_node, f"attribute {name} must not contain a newline")
            result.append((name, value))
        return tuple(result)
