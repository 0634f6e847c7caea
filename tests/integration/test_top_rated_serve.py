"""The Top Rated badge on `reputation serve`: the API's score and the freelancer page, by audience."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient

import reputation
from engine.serve.app import create_app
from reputation.config import Settings
from tests.unit.test_top_rated import market


def test_the_serve_page_shows_the_badge_to_all_and_the_weeks_to_the_trust_team_and_the_freelancer(tmp_path):
    settings = Settings(home=str(tmp_path), trust_token="t")
    with reputation.open(str(tmp_path)) as engine:
        engine.ingest(market(tick="2025-06-01").log_lines())
        engine.project()
    with TestClient(create_app(settings, follow=False)) as client:
        trust = client.get("/ui/freelancers/f-1", headers={"Authorization": "Bearer t"}).text
        mine = client.get("/ui/freelancers/f-1").text
        public = client.get("/ui/freelancers/f-1?audience=public").text
        api = client.get("/freelancers/f-1/score", headers={"Authorization": "Bearer t"}).json()["top_rated"]
        own = client.get("/freelancers/f-1/score").json()["top_rated"]
        anyone = client.get("/freelancers/f-1/score?audience=public").json()["top_rated"]
        history = client.get("/freelancers/f-1/history").json()
        (n,) = [n for n, e in enumerate(history, start=1) if e["top_rated_before"] != e["top_rated_after"]]
        flip = client.get(f"/ui/freelancers/f-1/changes/{n}")
        trust_history = client.get("/freelancers/f-1/history", headers={"Authorization": "Bearer t"}).json()
        (t,) = [e for e in trust_history if e["top_rated_before"] != e["top_rated_after"]]
        trust_flip = client.get(f"/ui/freelancers/f-1/changes/{t['seq']}", headers={"Authorization": "Bearer t"})
    # the last evaluation before 2025-06-01 is Monday 2025-05-26; 16 weeks from 2025-02-10
    assert (api["top_rated"], api["evaluated_at"], api["weeks_counted"]) == (True, "2025-05-26T00:00:00Z", 16)
    assert [w["week"] for w in api["weeks"]][::15] == ["2025-02-10", "2025-05-26"]
    # the weeks are published JSS: the freelancer sees them as the trust team does
    assert own == api
    assert anyone == {"top_rated": True, "evaluated_at": "2025-05-26T00:00:00Z"}
    assert 'id="top-rated-weeks"' in trust and "<b>Top Rated</b>" in trust
    assert 'id="top-rated-weeks"' in mine and "<b>Top Rated</b>" in mine
    assert 'id="top-rated-weeks"' not in public and "<b>Top Rated</b>" in public
    # the gain is a change of the freelancer's history at its Monday, with a page of its own
    assert history[n - 1]["published_at"] == "2025-04-14T00:00:00Z" and history[n - 1]["top_rated_after"]
    assert flip.status_code == 200, flip.text
    # the change page of a badge flip says so, with the entry's own badge causes (the weeks, the earnings)
    for page, entry in ((flip, history[n - 1]), (trust_flip, t)):
        badge = [c["text"] for c in entry["causes"] if c["kind"] == "top_rated_gained"]
        assert badge, entry["causes"]
        assert 'id="badge-change"' in page.text and "<b>gained</b>" in page.text
        assert all(html.escape(text) in page.text for text in badge)
