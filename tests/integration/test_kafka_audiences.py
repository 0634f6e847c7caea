"""The audiences on Kafka (tansu broker): score-changes carries only the published,
freelancer-audience changes (no private value, on every simulated freelancer of a seeded
marketplace; byte-identical when two private answers are swapped), score-changes.trust every
ledger entry with the ledger's change ids."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings

from consumers import subscribe
from consumers.kafka import SCORE_CHANGES, SCORE_CHANGES_TRUST
from engine.cli import main_group
from engine.simulate import simulate
from projections import published
from projections.ledger import from_json
from projections.service import open_projections
from reputation.config import Settings, open_store
from tests.audience_checks import assert_no_private, forbidden_words
from tests.integration.test_kafka import read_topic
from tests.property.test_audience_invariance import swapped_pair

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.filterwarnings("ignore:read_text is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
]

SEED = 11


def cli(*args: str) -> str:
    done = CliRunner().invoke(main_group, list(args), catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done.stdout


def load(cfg: Settings, lines: list[bytes], tick: str | None = None) -> None:
    path = Path(cfg.home) / "log.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    CliRunner().invoke(
        main_group,
        [
            "--home",
            cfg.home,
            "ingest",
            str(path),
            "--skip-invalid",
            "--dead-letter",
            str(Path(cfg.home) / "dead.jsonl"),
        ],
    )
    if tick:
        cli("--home", cfg.home, "tick", "--to", tick)


def test_score_changes_carries_published_changes_without_private_values(kafka_settings):
    cfg = kafka_settings
    lines = list(simulate(30, 48, SEED, "2019-01-01T00:00:00Z"))
    load(cfg, lines, "2023-01-02T00:00:00Z")
    out = cli("relay")
    assert "published changes to" in out

    words = forbidden_words(lines)
    messages = read_topic(cfg, SCORE_CHANGES)
    assert messages
    per_freelancer = defaultdict(list)
    for m in messages:
        change = published.from_json(m.value)
        assert m.key == change.freelancer_id.encode() and dict(m.headers)["change_id"] == change.change_id.encode()
        assert_no_private(m.value.decode(), words[change.freelancer_id], f"score-changes message {change.change_id}")
        per_freelancer[change.freelancer_id].append(json.loads(m.value))
    # the topic says what `history --audience freelancer` says, message for entry
    for fid, got in per_freelancer.items():
        expected = [json.loads(x) for x in cli("history", fid, "--audience", "freelancer", "--json").splitlines()]
        assert sorted(got, key=lambda c: c["published_at"]) == expected
    # the trust topic has every ledger entry, under the ledger's change ids
    store = open_store(cfg)
    proj = open_projections(cfg, store)
    try:
        ids = [e.change_id for e in proj.ledger_after(0, 10**9)]
    finally:
        proj.close()
        store.close()
    trust = read_topic(cfg, SCORE_CHANGES_TRUST)
    assert sorted(from_json(m.value).change_id for m in trust) == sorted(ids)
    assert any(b"recommend" in m.value for m in trust)  # the check above can fail
    # subscribers choose their audience; re-running the relay sends nothing new
    got: list = []
    subscribe(got.append, settings=cfg, from_beginning=True, timeout=2, audience="public")
    assert len(got) == len(messages) and all(c.causes is None and c.audience == "public" for c in got)
    assert "0 published changes" in cli("relay")
    assert len(read_topic(cfg, SCORE_CHANGES)) == len(messages)


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
@given(pair=swapped_pair())
def test_swapping_two_private_answers_changes_no_message_on_score_changes(pair, kafka_broker, tmp_path_factory):
    values = []
    for n, lines in enumerate(pair):
        cfg = Settings(
            home=str(tmp_path_factory.mktemp(f"k{n}")), kafka=kafka_broker, topic_prefix=f"t{uuid.uuid4().hex[:10]}."
        )
        load(cfg, lines)
        score = json.loads(cli("--home", cfg.home, "score", "f0", "--json"))
        counted = {c["contract_id"]: c["counted"] and c["outcome"] is not None for c in score["contracts"]}
        assume(counted.get("A") and counted.get("B"))
        cli("--home", cfg.home, "--kafka", kafka_broker, "--topic-prefix", cfg.topic_prefix, "relay")
        mine = [(m.key, m.headers, m.value) for m in read_topic(cfg, SCORE_CHANGES) if m.key == b"f0"]
        values.append(sorted(mine))
    assert values[0] and values[0] == values[1]
