"""The benchmark scenarios: a chain (config file), its back-ends, the connection counts, the daemons."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent

#: the same for every scenario and both daemons, prepended to every config: workers as both daemons'
#: defaults, but eight started at once so that the first seconds do not measure forking.
#: keepalive_timeout: policy-sim keeps a simulated smtpd's connection open until the whole run ends,
#: so at the end of a window a Perl child (one connection each) would sit on an idle connection for
#: the default 60 s while requests queued in the backlog wait for it.
COMMON_SETTINGS = """min_servers = 8
min_spare_servers = 4
max_spare_servers = 12
max_servers = 25
keepalive_timeout = 5
log_level = 0
"""

#: requests per connection (Postfix's smtpd_policy_service_reuse_count_limit)
REUSE_LIMIT = 100

#: our per-vhost option of the asyncio rewrite; the Perl daemon ignores unknown vhost keys
PARALLEL_DNS = "  parallel_dns = on"

#: the delaying front's zones: one test entry each, so no client of the generated trace is listed
NOT_LISTED = ":127.0.0.2:listed\n127.0.0.2\n"


@dataclass(frozen=True)
class Variant:
    """One daemon run of a scenario: ``key`` names it in the results, ``values`` fill the template."""

    key: str
    daemon: str  # "perl" or "python"
    label: str
    values: dict[str, str] = field(default_factory=dict)


PERL = Variant("perl", "perl", "Perl")
OURS = Variant("ours", "python", "ours")


@dataclass(frozen=True)
class Scenario:
    """A chain measured side by side; ``comparisons`` pair our variants with the Perl one."""

    name: str
    title: str
    config: str
    connections: tuple[int, ...]
    variants: tuple[Variant, ...] = (PERL, OURS)
    dns_delay_ms: float | None = None
    zones: tuple[str, ...] = ()
    lookups_per_request: int = 0
    memcached: bool = False
    template_values: dict[str, str] = field(default_factory=dict)

    def template(self) -> str:
        """The config template with the common settings in front."""
        return COMMON_SETTINGS + (HERE / self.config).read_text()

    def values(self, variant: Variant) -> dict[str, str]:
        """Template values for one variant."""
        return {**self.template_values, **variant.values}

    @property
    def ours(self) -> tuple[Variant, ...]:
        """Our daemon's variants (compared each with the Perl run)."""
        return tuple(variant for variant in self.variants if variant.daemon == "python")

    def title_for(self, variant: Variant) -> str:
        """The chain column of a table row."""
        return self.title if len(self.ours) == 1 else f"{self.title} ({variant.label})"


SCENARIOS = (
    Scenario(
        "rbl",
        "one RBL look-up, 20 ms DNS latency",
        "rbl.conf",
        (16, 64),
        dns_delay_ms=20.0,
        zones=("bl.bench",),
        lookups_per_request=1,
    ),
    Scenario(
        "rbl4",
        "four passive RBL look-ups 5 ms each + ScoreAction + AddScoreHeader",
        "rbl4.conf",
        (16, 64),
        # Perl gets the same text as our parallel variant: it ignores the key (Moose drops unknown
        # vhost arguments); ours without the option shows what the option changes
        variants=(
            Variant("perl", "perl", "Perl", {"vhost_options": PARALLEL_DNS}),
            Variant("ours-parallel", "python", "ours, parallel_dns = on", {"vhost_options": PARALLEL_DNS}),
            Variant("ours", "python", "ours, without parallel_dns", {"vhost_options": ""}),
        ),
        dns_delay_ms=5.0,
        zones=("bl1.bench", "bl2.bench", "bl3.bench", "bl4.bench"),
        lookups_per_request=4,
    ),
    Scenario(
        "scoring",
        "scoring chain, memcached sessions, no DNS",
        "scoring.conf",
        (16, 64),
        memcached=True,
    ),
    Scenario("minimal", "minimal chain (one Action)", "minimal.conf", (16,)),
)

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
