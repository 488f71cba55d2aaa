"""Read a trace file (YAML, or JSON) into the model; errors name file, line and column."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from policy_sim.endpoint import DEFAULT_HOST, Endpoint, parse_endpoint
from policy_sim.trace.model import (
    DEFAULT_SCORE_PATTERN,
    PROTOCOL_STATES,
    Expectation,
    Host,
    Mail,
    Position,
    Retry,
    ScoreProbe,
    Service,
    Stage,
    Trace,
)
from policy_sim.trace.nodes import NodeReader, TraceError

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML without libyaml
    _Loader = yaml.SafeLoader

TOP_KEYS = {"version", "server", "services", "hosts", "stages", "defaults", "mails"}
#: versions this policy-sim reads; 2 adds fleets: ``hosts``, a mail's ``host`` and ``retries``
VERSIONS = ("1", "2")
MAIL_KEYS = {
    "client_address",
    "client_name",
    "reverse_client_name",
    "helo",
    "sender",
    "recipients",
    "stages",
    "sasl_username",
    "sasl_method",
    "sasl_sender",
    "size",
    "protocol_name",
    "instance",
    "id",
    "attributes",
    "host",
    "retries",
}
STAGE_KEYS = {"state", "service", "expect", "score", "expect_score", "attributes"}
SERVICE_KEYS = {"address", "port", "policy_context"}
RETRY_KEYS = {"after", "host", "stages"}

#: A stage as written (node and its checked keys); built into a Stage per mail.
StageSpec = tuple[yaml.Node, dict[str, yaml.Node]]


def load_trace(path: str | Path) -> Trace:
    """Load a trace from a ``.yaml``/``.yml``/``.json`` file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TraceError(f"cannot read trace: {error.strerror}", Position(file)) from error
    except UnicodeDecodeError as error:
        raise TraceError(f"not UTF-8 text ({error.reason})", Position(file)) from error
    return parse_trace(text, file)


def parse_trace(text: str, file: str = "<string>") -> Trace:
    """Parse trace text; JSON is checked with the JSON parser first for exact error positions."""
    if file.endswith(".json") or text.lstrip().startswith("{"):
        root = _json_root(text, file)
    else:
        root = _yaml_root(text, file)
    return _Reader(file).trace(root)


def _yaml_root(text: str, file: str) -> yaml.Node:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file)
        raise TraceError(f"YAML syntax error: {error.problem or error.context}", where) from error
    except yaml.YAMLError as error:
        raise TraceError(f"YAML error: {error}", Position(file)) from error
    if root is None:
        raise TraceError("empty trace", Position(file, 1, 1))
    return root


def _json_root(text: str, file: str) -> yaml.Node:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        where = Position(file, error.lineno, error.colno)
        raise TraceError(f"JSON syntax error: {error.msg}", where) from error
    try:
        return _yaml_root(text, file)  # JSON is YAML: this keeps line numbers for later errors
    except TraceError:
        node: yaml.Node = yaml.SafeDumper(None).represent_data(data)  # type: ignore[arg-type]
        return node


class _Reader(NodeReader):
    """Reads a trace: services, hosts, default stages and mails, keeping positions for errors."""

    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.version = ""
        self.hosts: dict[str, Host] = {}

    def trace(self, root: yaml.Node) -> Trace:
        top = self.mapping(root, "the trace", TOP_KEYS)
        if "version" in top:
            self.version = self.scalar(top["version"], "version")
            if self.version not in VERSIONS:
                raise self.fail(
                    top["version"],
                    f"unsupported trace version {self.version!r} (this policy-sim reads versions "
                    f"{', '.join(VERSIONS)})",
                )
        services = self.services(top["services"]) if "services" in top else {}
        if "hosts" in top:
            self.hosts = self.fleet(top["hosts"], services)
        server_address, server_port = DEFAULT_HOST, "25"
        if "server" in top:
            server = self.mapping(top["server"], "server", {"address", "port"})
            server_address = (
                self.scalar(server["address"], "server address") if "address" in server else server_address
            )
            server_port = self.scalar(server["port"], "server port") if "port" in server else server_port
        default_stages = self.stages(top["stages"], services) if "stages" in top else None
        defaults = (
            self.mapping(top["defaults"], "defaults", MAIL_KEYS - {"stages", "recipients"})
            if "defaults" in top
            else {}
        )
        if "mails" not in top:
            raise self.fail(root, "the trace has no 'mails' list")
        mails = tuple(
            self.mail(node, index, defaults, default_stages, services)
            for index, node in enumerate(self.sequence(top["mails"], "mails"))
        )
        return Trace(services, mails, self.file, server_address, server_port, self.hosts)

    def needs_fleet_version(self, node: yaml.Node, what: str) -> None:
        if self.version == "1":
            raise self.fail(node, f"{what} needs trace version 2 (the trace says version 1)")

    def fleet(self, node: yaml.Node, services: dict[str, Service]) -> dict[str, Host]:
        """``hosts``: name → ``host:port`` (every service), ``{service: host:port, …}``, or empty."""
        self.needs_fleet_version(node, "'hosts'")
        if not isinstance(node, yaml.MappingNode) or not node.value:
            raise self.fail(node, "hosts must map host names to addresses")
        hosts: dict[str, Host] = {}
        for key_node, value_node in node.value:
            name = self.scalar(key_node, "a host name")
            if name in hosts:
                raise self.fail(key_node, f"duplicate host {name!r}")
            if isinstance(value_node, yaml.ScalarNode):
                address = self.scalar(value_node, f"host {name}")
                hosts[name] = Host(
                    name,
                    self.address(value_node, address, f"host {name}") if address else None,
                    position=self.where(key_node),
                )
                continue
            per_service = self.mapping(value_node, f"host {name} (service names)", set(services))
            addresses = tuple(
                (service, self.address(value, self.scalar(value, service), f"host {name} service {service}"))
                for service, value in per_service.items()
            )
            hosts[name] = Host(name, None, addresses, self.where(key_node))
        return hosts

    def address(self, node: yaml.Node, text: str, what: str) -> Endpoint:
        try:
            return parse_endpoint(text)
        except ValueError as error:
            raise self.fail(node, f"{what}: {error}") from None

    def host(self, node: yaml.Node) -> str:
        """A host name of the mail or a retry; it must be one of the trace's ``hosts``."""
        self.needs_fleet_version(node, "'host'")
        name = self.scalar(node, "host")
        if name not in self.hosts:
            known = ", ".join(self.hosts) or "none: the trace has no 'hosts'"
            raise self.fail(node, f"unknown host {name!r} (hosts: {known})")
        return name

    def retries(self, node: yaml.Node, services: dict[str, Service], recipients: int) -> tuple[Retry, ...]:
        """``retries``: ``{after: SECONDS, host: NAME, stages: […]}`` for each later attempt."""
        self.needs_fleet_version(node, "'retries'")
        retries = []
        for retry_node in self.sequence(node, "retries"):
            entries = self.mapping(retry_node, "a retry", RETRY_KEYS)
            after = self.number(entries["after"], "after") if "after" in entries else 0.0
            if after < 0:
                raise self.fail(entries["after"], "after must not be negative")
            stage_specs = self.stages(entries["stages"], services) if "stages" in entries else []
            retries.append(
                Retry(
                    after=after,
                    host=self.host(entries["host"]) if "host" in entries else "",
                    stages=tuple(
                        self.stage(stage, spec, services, recipients) for stage, spec in stage_specs
                    ),
                    position=self.where(retry_node),
                )
            )
        return tuple(retries)

    def services(self, node: yaml.Node) -> dict[str, Service]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, "services must map service names to addresses")
        services = {}
        for key_node, value_node in node.value:
            name = self.scalar(key_node, "a service name")
            services[name] = self.service(name, value_node)
        return services

    def service(self, name: str, node: yaml.Node) -> Service:
        context = ""
        if isinstance(node, yaml.ScalarNode):
            address = self.scalar(node, f"service {name}")
        else:
            spec = self.mapping(node, f"service {name}", SERVICE_KEYS)
            address = self.scalar(spec["address"], "address") if "address" in spec else ""
            if "port" in spec:
                address = f"{address or DEFAULT_HOST}:{self.scalar(spec['port'], 'port')}"
            if "policy_context" in spec:
                context = self.scalar(spec["policy_context"], "policy_context")
        if not address:
            return Service(name, None, context)
        try:
            return Service(name, parse_endpoint(address), context)
        except ValueError as error:
            raise self.fail(node, f"service {name}: {error}") from None

    def stages(self, node: yaml.Node, services: dict[str, Service]) -> list[StageSpec]:
        """Check the stage list's shape; stages are built per mail (RCPT needs the recipients)."""
        checked = []
        for stage_node in self.sequence(node, "stages"):
            entries = self.mapping(stage_node, "a stage", STAGE_KEYS)
            if "state" not in entries:
                raise self.fail(stage_node, "a stage needs a 'state' (e.g. RCPT, DATA, END-OF-MESSAGE)")
            state = self.scalar(entries["state"], "state").upper()
            if state not in PROTOCOL_STATES:
                raise self.fail(
                    entries["state"],
                    f"unknown protocol state {state!r} (one of {', '.join(PROTOCOL_STATES)})",
                )
            self.stage_service(stage_node, entries, services)
            checked.append((stage_node, entries))
        if not checked:
            raise self.fail(node, "a mail needs at least one stage")
        return checked

    def stage_service(
        self, node: yaml.Node, entries: dict[str, yaml.Node], services: dict[str, Service]
    ) -> str:
        if "service" not in entries:
            if len(services) == 1:
                return next(iter(services))
            raise self.fail(node, "a stage needs a 'service' (a name from 'services' or host:port)")
        name = self.scalar(entries["service"], "service")
        if name not in services:
            try:
                parse_endpoint(name)
            except ValueError:
                raise self.fail(
                    entries["service"],
                    f"service {name!r} is not in 'services' and is not a host:port address",
                ) from None
        return name

    def stage(
        self, node: yaml.Node, entries: dict[str, yaml.Node], services: dict[str, Service], recipients: int
    ) -> Stage:
        state = self.scalar(entries["state"], "state").upper()
        requests = recipients if state == "RCPT" else 1
        expect: tuple[Expectation | None, ...] = ()
        if "expect" in entries:
            expect = self.expectations(entries["expect"], requests)
        probe = self.score_probe(entries["expect_score"]) if "expect_score" in entries else None
        return Stage(
            state=state,
            service=self.stage_service(node, entries, services),
            expect=expect,
            score=self.number(entries["score"], "score") if "score" in entries else 0.0,
            expect_score=probe,
            attributes=self.attributes(entries["attributes"], "stage attributes")
            if "attributes" in entries
            else (),
            position=self.where(node),
        )

    def expectations(self, node: yaml.Node, requests: int) -> tuple[Expectation | None, ...]:
        if isinstance(node, yaml.SequenceNode):
            items = self.sequence(node, "expect")
            if len(items) != requests:
                raise self.fail(
                    node,
                    f"expect lists {len(items)} actions but the stage makes {requests} "
                    "requests (give one per recipient, or a single one for all)",
                )
            return tuple(self.expectation(item) for item in items)
        return (self.expectation(node),)

    def expectation(self, node: yaml.Node) -> Expectation | None:
        if isinstance(node, yaml.ScalarNode):
            text = self.scalar(node, "expect")
            return Expectation(text) if text else None
        entries = self.mapping(node, "expect", {"exact", "regex"})
        if len(entries) != 1:
            raise self.fail(node, "expect takes either 'exact' or 'regex'")
        if "regex" in entries:
            pattern = self.scalar(entries["regex"], "regex")
            self.check_regex(entries["regex"], pattern)
            return Expectation(pattern, is_regex=True)
        return Expectation(self.scalar(entries["exact"], "exact"))

    def check_regex(self, node: yaml.Node, pattern: str) -> None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise self.fail(node, f"bad regex {pattern!r}: {error}") from None

    def score_probe(self, node: yaml.Node) -> ScoreProbe | None:
        if isinstance(node, yaml.MappingNode):
            entries = self.mapping(node, "expect_score", {"regex"})
            node = entries.get("regex", node)
        text = self.scalar(node, "expect_score")
        if text.lower() in ("false", "no", "off", ""):
            return None
        pattern = DEFAULT_SCORE_PATTERN if text.lower() in ("true", "yes", "on") else text
        self.check_regex(node, pattern)
        return ScoreProbe(pattern)

    def mail(
        self,
        node: yaml.Node,
        index: int,
        defaults: dict[str, yaml.Node],
        default_stages: list[StageSpec] | None,
        services: dict[str, Service],
    ) -> Mail:
        entries = {**defaults, **self.mapping(node, f"mail {index + 1}", MAIL_KEYS)}

        def text(key: str, default: str = "") -> str:
            return self.scalar(entries[key], key) if key in entries else default

        recipients = (
            tuple(
                self.scalar(item, "a recipient")
                for item in self.sequence(entries["recipients"], "recipients")
            )
            if "recipients" in entries
            else ()
        )
        stage_specs = self.stages(entries["stages"], services) if "stages" in entries else default_stages
        if stage_specs is None:
            raise self.fail(node, "the mail has no 'stages' and the trace has no default 'stages'")
        if not recipients and any(
            self.scalar(spec["state"], "state").upper() == "RCPT" for _, spec in stage_specs
        ):
            raise self.fail(node, "the mail has an RCPT stage but no recipients")
        client_address = text("client_address")
        if not client_address:
            raise self.fail(node, "the mail needs a client_address")
        client_name = text("client_name", "unknown")
        sasl_username = text("sasl_username")
        size_text = text("size", "0")
        if not size_text.isdigit():
            raise self.fail(entries["size"], f"size must be a whole number of bytes, not {size_text!r}")
        return Mail(
            client_address=client_address,
            client_name=client_name,
            reverse_client_name=text("reverse_client_name", client_name),
            helo=text("helo", client_name if client_name != "unknown" else f"[{client_address}]"),
            sender=text("sender"),
            recipients=recipients,
            stages=tuple(
                self.stage(stage_node, spec, services, len(recipients)) for stage_node, spec in stage_specs
            ),
            sasl_username=sasl_username,
            sasl_method=text("sasl_method", "PLAIN" if sasl_username else ""),
            sasl_sender=text("sasl_sender"),
            size=int(size_text),
            protocol_name=text("protocol_name", "ESMTP"),
            instance=text("instance"),
            id=text("id"),
            attributes=self.attributes(entries["attributes"], "mail attributes")
            if "attributes" in entries
            else (),
            position=self.where(node),
            host=self.host(entries["host"]) if "host" in entries else "",
            retries=self.retries(entries["retries"], services, len(recipients))
            if "retries" in entries
            else (),
        )
