"""The freelancer and public audiences' shapes as msgspec Structs (those of
projections.freelancer_view: the CLI's `--json --audience freelancer|public`, the Python API's
results, and the messages of the Kafka topic score-changes)."""

from __future__ import annotations

import msgspec


class TopRatedWeek(msgspec.Struct):
    week: str  # the Monday (00:00 UTC)
    jss: int | None  # the displayed JSS then (None: not shown)
    counted: bool  # jss >= the rule's jss


class TopRatedRule(msgspec.Struct):
    jss: int
    weeks: int
    of: int
    earnings: float
    months: int


class TopRated(msgspec.Struct, omit_defaults=True):
    """The Top Rated badge at the last weekly evaluation (rules.md); the weeks (of published
    JSS) and earnings behind it for the trust audience and the freelancer, not the public."""

    top_rated: bool
    evaluated_at: str
    weeks_counted: int | None = None
    weeks: list[TopRatedWeek] | None = None
    earnings_last_months: float | None = None
    rule: TopRatedRule | None = None


class PublicScore(msgspec.Struct, kw_only=True):
    """What anyone may see: the published JSS (or why it is hidden) and the feedback score."""

    freelancer_id: str
    audience: str
    as_of: str
    published_at: str  # the publication instant whose score this is
    jss: int | None
    jss_hidden_reason: str | None
    feedback_score: float | None


class PublishedCounted(msgspec.Struct):
    window_months: int
    contracts: int
    weight: float
    private_feedback: int  # counted contracts decided by private feedback (no outcome shown)
    positive: int  # the others, by outcome
    neutral: int
    negative: int


class PublishedContract(msgspec.Struct):
    contract_id: str
    private_feedback: bool  # its outcome rests on private feedback: outcome, counted, weight are None
    outcome: str | None
    counted: bool | None
    weight: float | None
    in_windows: list[int] | None
    closed_at: str | None
    settled_at: str | None
    earnings: float
    why: list[str]
    leaves_windows: dict[str, str] | None


class Interval(msgspec.Struct):
    """How sure the JSS is (projections.uncertainty): the 80% interval of a Beta posterior."""

    level: float
    prior: str
    window_months: int
    alpha: float
    beta: float
    low: float
    high: float
    one_more_negative: int | None
    one_more_positive: int | None


class FreelancerScore(PublicScore, kw_only=True):
    """The freelancer's own view of the published score (`score --audience freelancer --json`)."""

    known_at: str
    rules: str
    jss_exact: float | None
    jss_window_months: int | None
    counted: PublishedCounted
    contracts: list[PublishedContract]
    interval: Interval | None = None


class PublicScoreWithBadge(PublicScore, kw_only=True):
    """`score --audience public`: the published score and the Top Rated badge (public)."""

    top_rated: TopRated


class FreelancerScoreWithBadge(FreelancerScore, kw_only=True):
    """`score --audience freelancer` (explain's from/to carry no badge)."""

    top_rated: TopRated


class PublishedCause(msgspec.Struct, omit_defaults=True):
    kind: str  # rules_changed, contract, private_feedback (a group of >= k contracts), other
    published_at: str
    jss_delta: float
    jss_delta_exact: str
    text: str
    contract_id: str | None = None
    contracts: int | None = None  # the size of a private_feedback group


class PublishedCounterfactual(msgspec.Struct):
    contract_id: str
    outcome: str
    jss_without: float | None
    jss_if_neutral: float | None
    jss_if_positive: float | None


class FreelancerExplanation(msgspec.Struct, rename={"start": "from", "end": "to"}):
    freelancer_id: str
    audience: str
    start: FreelancerScore
    end: FreelancerScore
    jss_delta: float
    jss_delta_exact: str
    causes: list[PublishedCause]
    counterfactuals: list[PublishedCounterfactual]


class PublishedChange(msgspec.Struct, omit_defaults=True):
    """A change of the published score (`history --audience freelancer|public`, and the
    messages of the Kafka topic score-changes)."""

    change_id: str  # <freelancer>@<published_at>: stable, and names no log position
    # published_at: the publication instant, or the Monday whose evaluation flipped the badge
    # (the JSS is then the one published last)
    freelancer_id: str
    audience: str
    published_at: str
    rules: str
    jss_before: int | None
    jss_after: int | None
    jss_hidden_reason: str | None
    feedback_before: float | None
    feedback_after: float | None
    causes: list[PublishedCause] | None = None  # the freelancer audience only
    # the Top Rated badge before / after (a Monday's evaluation, from published JSS only)
    top_rated_before: bool | None = None
    top_rated_after: bool | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PublishedChange)


def to_json(change: PublishedChange) -> bytes:
    return _encoder.encode(change)


def from_json(data: bytes) -> PublishedChange:
    return _decoder.decode(data)
