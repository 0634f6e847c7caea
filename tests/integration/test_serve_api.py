"""`reputation serve`'s JSON API through the framework's test client: every endpoint equals the
Python API / CLI `--json`, every error has its status, the trust audience needs the token."""

from __future__ import annotations

import json
import time

import msgspec
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import reputation
from engine.cli import main_group
from engine.serve import create_app
from engine.simulate import simulate
from reputation.config import Settings
from tests.audience_checks import assert_no_private, forbidden_words
from tests.integration.test_store_contract import PG_URL, pg_schema  # noqa: F401 (fixture)

SEED = 7  # the simulated marketplace (recorded: same seed, same events)
TOKEN = "test-trust-token"
TRUST = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve") / "home"
    with reputation.open(str(home)) as engine:
        engine.ingest(simulate(25, 36, SEED))
        engine.project()
    return home


@pytest.fixture(scope="module")
def engine(home):
    with reputation.open(str(home)) as e:
        yield e


@pytest.fixture(scope="module")
def client(home):
    app = create_app(Settings(home=str(home), trust_token=TOKEN), follow=False)
    with TestClient(app) as c:
        yield c


def builtins(x) -> object:
    return msgspec.to_builtins(x)


def a_freelancer_with_private_answers(engine) -> str:
    """A freelancer whose trust view shows something the freelancer view hides."""
    for fid in engine.projections.freelancers():
        if engine.score(fid, audience="trust") != engine.score(fid, audience="freelancer"):
            return fid
    raise AssertionError(f"seed {SEED}: no freelancer has a private answer")


def test_score_equals_the_python_api_in_each_audience(client, engine):
    fid = a_freelancer_with_private_answers(engine)
    trust = client.get(f"/freelancers/{fid}/score", headers=TRUST)
    assert trust.status_code == 200
    assert trust.json() == builtins(engine.score(fid, audience="trust"))
    mine = client.get(f"/freelancers/{fid}/score", params={"audience": "freelancer"})
    assert mine.json() == builtins(engine.score(fid, audience="freelancer"))
    assert mine.json() != trust.json()


def test_without_the_token_a_request_never_gets_the_trust_audience(client, engine):
    fid = a_freelancer_with_private_answers(engine)
    default = client.get(f"/freelancers/{fid}/score")
    assert default.status_code == 200
    assert default.json() == builtins(engine.score(fid, audience="freelancer"))
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        for path, params in (("score", {}), ("history", {}), ("explain", {"from": "2019-01-01T00:00:00Z"})):
            r = client.get(f"/freelancers/{fid}/{path}", params={**params, "audience": "trust"}, headers=headers)
            assert r.status_code == 401, (path, headers, r.text)
            assert "REPUTATION_TRUST_TOKEN" in r.json()["error"]
            assert r.headers["www-authenticate"] == "Bearer"


def test_no_configured_token_serves_no_trust_audience(home, engine):
    fid = a_freelancer_with_private_answers(engine)
    with TestClient(create_app(Settings(home=str(home)), follow=False)) as c:
        assert c.get(f"/freelancers/{fid}/score", params={"audience": "trust"}, headers=TRUST).status_code == 401
        assert c.get(f"/freelancers/{fid}/score", headers=TRUST).json() == builtins(
            engine.score(fid, audience="freelancer")
        )


def test_score_parameters_are_those_of_the_cli(client, engine):
    fid = engine.projections.freelancers()[3]
    params = {"as_of": "2019-06-01T00:00:00Z", "known_at": "@900", "rules": "jss-2024"}
    r = client.get(f"/freelancers/{fid}/score", params=params, headers=TRUST)
    assert r.status_code == 200
    assert r.json() == builtins(engine.score(fid, as_of=params["as_of"], known_at="@900", rules="jss-2024"))
    assert r.json()["rules"] == "jss-2024" and r.json()["known_at"] == "@900"


def test_explain_equals_the_python_api(client, engine):
    fid = a_freelancer_with_private_answers(engine)
    for audience, headers in (("trust", TRUST), ("freelancer", {})):
        r = client.get(
            f"/freelancers/{fid}/explain",
            params={"from": "2019-01-01T00:00:00Z", "audience": audience},
            headers=headers,
        )
        assert r.status_code == 200
        assert r.json() == builtins(engine.explain(fid, start="2019-01-01T00:00:00Z", audience=audience))
    r = client.get(f"/freelancers/{fid}/explain", params={"from": "2019-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"})
    assert r.json()["to"]["as_of"] == "2020-01-01T00:00:00Z"


def test_history_equals_the_ledger_with_restatements(client, engine):
    fid = a_freelancer_with_private_answers(engine)
    ledger = engine.history(fid)
    everything = client.get(f"/freelancers/{fid}/history", params={"all": "true"}, headers=TRUST).json()
    assert [e["seq"] for e in everything] == [c.seq for c in ledger]
    assert [{k: v for k, v in e.items() if k != "restated_by"} for e in everything] == [builtins(c) for c in ledger]
    current = client.get(f"/freelancers/{fid}/history", headers=TRUST).json()
    assert [e["seq"] for e in current] == [e["seq"] for e in everything if e["restated_by"] is None]
    restated = {}  # a late event restates entries: `all` shows them, marked, and the default leaves them out
    for other in engine.projections.freelancers():
        every = client.get(f"/freelancers/{other}/history", params={"all": "true"}, headers=TRUST).json()
        restated.update({e["seq"]: e["restated_by"] for e in every if e["restated_by"] is not None})
        shown = {e["seq"] for e in client.get(f"/freelancers/{other}/history", headers=TRUST).json()}
        assert shown == {e["seq"] for e in every} - set(restated)
    assert restated, f"seed {SEED}: no late event restated an entry"
    assert all(by > seq for seq, by in restated.items())


def test_history_without_the_token_is_the_published_changes(client, engine):
    """Not the ledger: one entry per publication instant at which the published score moved."""
    fid = a_freelancer_with_private_answers(engine)
    default = client.get(f"/freelancers/{fid}/history").json()
    assert default == builtins(engine.history(fid, audience="freelancer"))
    assert default == client.get(f"/freelancers/{fid}/history", params={"audience": "freelancer", "all": "true"}).json()
    assert default and all("seq" not in e and "effective_at" not in e for e in default)
    # at a publication instant, or at the Monday whose Top Rated evaluation flipped the badge
    assert all(
        e["published_at"][8:] in ("01T00:00:00Z", "15T00:00:00Z") or e["top_rated_before"] != e["top_rated_after"]
        for e in default
    )
    assert all(
        (e["jss_before"], e["feedback_before"], e["top_rated_before"])
        != (e["jss_after"], e["feedback_after"], e["top_rated_after"])
        for e in default
    )
    assert all(e["causes"] is not None for e in default)  # the freelancer reads why (grouped)
    public = client.get(f"/freelancers/{fid}/history", params={"audience": "public"}).json()
    assert public == builtins(engine.history(fid, audience="public"))
    assert [e["published_at"] for e in public] == [e["published_at"] for e in default]
    assert all("causes" not in e for e in public)


def cli_json(home, *args: str) -> list:
    """`reputation --home H <args> --json`: its JSON lines."""
    done = CliRunner().invoke(main_group, ["--home", str(home), *args, "--json"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("audience", ["trust", "freelancer", "public"])
def test_every_endpoint_equals_the_cli_json_in_each_audience(client, engine, home, audience):
    fid = a_freelancer_with_private_answers(engine)
    headers = TRUST if audience == "trust" else {}
    a = {"audience": audience}

    def api(path: str, **params):
        r = client.get(f"/freelancers/{fid}/{path}", params={**params, **a}, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    cli = lambda *args: cli_json(home, *args, "--audience", audience)  # noqa: E731
    assert [api("score")] == cli("score", fid)
    assert [api("score", as_of="2020-03-01T00:00:00Z")] == cli("score", fid, "--as-of", "2020-03-01T00:00:00Z")
    assert api("history") == cli("history", fid)
    if audience == "public":  # the public sees the score only: no explanation, neither here nor there
        r = client.get(f"/freelancers/{fid}/explain", params={"from": "2019-01-01T00:00:00Z", **a})
        assert r.status_code == 400 and "public" in r.json()["error"]
        done = CliRunner().invoke(
            main_group,
            ["--home", str(home), "explain", fid, "--from", "2019-01-01T00:00:00Z", "--audience", "public", "--json"],
        )
        assert done.exit_code == 2
    else:
        span = {"from": "2019-01-01T00:00:00Z", "to": "2020-06-01T00:00:00Z"}
        assert [api("explain", **span)] == cli("explain", fid, "--from", span["from"], "--to", span["to"])


def test_client_equals_the_python_api(client, engine):
    r = client.get("/clients/k-000001", params={"as_of": "2020-01-01T00:00:00Z"})
    assert r.status_code == 200
    assert r.json() == builtins(engine.client("k-000001", as_of="2020-01-01T00:00:00Z"))


def test_whatif_equals_one_score_per_freelancer(client, engine):
    """The SQL answer against the slow path it replaces: the Python engine, freelancer by freelancer."""
    at = "2021-01-15T00:00:00Z"
    out = client.get("/whatif", params={"rules": "jss-2024", "at": at}).json()
    now, alt = {}, {}
    for fid in engine.projections.freelancers():
        s = engine.score(fid, as_of=at)
        if s.contracts:
            now[fid], alt[fid] = s.jss, engine.score(fid, as_of=at, rules="jss-2024").jss
    both = [alt[f] - now[f] for f in now if now[f] is not None and alt[f] is not None]
    assert out["rules_in_force"] == "jss-2020" and out["freelancers"] == len(now)
    assert (out["gain"], out["lose"], out["same"]) == (
        sum(d > 0 for d in both),
        sum(d < 0 for d in both),
        both.count(0),
    )
    assert out["appear"] == sum(now[f] is None and alt[f] is not None for f in now)
    assert out["disappear"] == sum(now[f] is not None and alt[f] is None for f in now)
    assert sum(b["count"] for b in out["histogram"]) == len(both)
    for b in out["histogram"]:
        assert b["count"] == sum(b["lo"] <= d < b["hi"] for d in both)
    for m in out["movers"]:
        assert (m["jss_in_force"], m["jss_whatif"]) == (now[m["freelancer_id"]], alt[m["freelancer_id"]])
    deltas = [abs(m["delta"]) for m in out["movers"] if m["delta"] is not None]
    assert deltas == sorted(deltas, reverse=True) and (not both or deltas[0] == max(abs(d) for d in both))


def test_healthz_reports_the_lag_and_the_projector_catches_up(tmp_path):
    home = tmp_path / "home"
    lines = list(simulate(12, 24, SEED))
    half = len(lines) // 2
    with reputation.open(str(home)) as e:
        e.ingest(lines[:half])
        e.project()
        e.ingest(lines[half:])  # not projected yet
    settings = Settings(home=str(home))
    with TestClient(create_app(settings, follow=False)) as c:
        h = c.get("/healthz").json()
        assert (h["position"], h["projected"], h["lag_events"]) == (len(lines), half, len(lines) - half)
        assert h["lag_seconds"] > 0 and h["projector"] is None
    with TestClient(create_app(settings, interval=0.05)) as c:
        deadline = time.monotonic() + 30
        while (h := c.get("/healthz").json())["lag_events"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (h["projected"], h["lag_events"], h["lag_seconds"]) == (len(lines), 0, 0.0)
        assert h["projector"]["running"] and h["projector"]["events_folded"] == len(lines) - half


BAD = [
    ("/freelancers/f-000001/score", {"as_of": "yesterday"}, "as_of"),
    ("/freelancers/f-000001/score", {"known_at": "@x"}, "@N"),
    ("/freelancers/f-000001/score", {"rules": "jss-1999"}, "jss-1999"),
    ("/freelancers/f-000001/score", {"audience": "everyone"}, "everyone"),
    ("/freelancers/f-000001/explain", {}, "from"),
    ("/freelancers/f-000001/explain", {"from": "2020-01-01T00:00:00Z", "audience": "public"}, "public"),
    ("/freelancers/f-000001/explain", {"from": "2021-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"}, "after"),
    ("/freelancers/f-000001/history", {"all": "perhaps"}, "all"),
    ("/clients/k-000001", {"as_of": "2020-13-01T00:00:00Z"}, "as_of"),
    ("/whatif", {}, "rules"),
    ("/whatif", {"rules": "jss-2024", "at": "soon"}, "at"),
]


@pytest.mark.parametrize("path,params,named", BAD)
def test_a_bad_parameter_is_400_naming_it(client, path, params, named):
    r = client.get(path, params=params)
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400 and named in r.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/freelancers/f-999999/score",
        "/freelancers/f-999999/explain?from=2020-01-01T00:00:00Z",
        "/freelancers/f-999999/history",
        "/clients/k-999999",
    ],
)
def test_an_unknown_freelancer_or_client_is_404(client, path):
    r = client.get(path)
    assert r.status_code == 404 and "999999" in r.json()["error"]


@pytest.mark.parametrize(
    "path", ["/healthz", "/freelancers/f-000001/score", "/clients/k-000001", "/whatif?rules=jss-2024"]
)
def test_an_unreachable_store_is_503(path):
    settings = Settings(store="postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    with TestClient(create_app(settings, follow=False)) as c:
        r = c.get(path)
    assert r.status_code == 503 and "PostgreSQL" in r.json()["error"]


def test_openapi_describes_every_endpoint_with_its_response_schema(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    expected = {
        "/freelancers/{freelancer_id}/score": "Score",
        "/freelancers/{freelancer_id}/explain": "Explanation",
        "/freelancers/{freelancer_id}/history": "HistoryEntry",
        "/clients/{client_id}": "ClientScore",
        "/whatif": "WhatIf",
        "/healthz": "Health",
    }
    assert set(expected) <= set(spec["paths"])
    assert not any(p.startswith("/ui") for p in spec["paths"])
    assert client.get("/docs").status_code == 404  # no page that loads scripts from elsewhere
    for path, name in expected.items():
        ok = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert name in str(ok) and name in schemas
    assert set(schemas["Score"]["required"]) >= {"freelancer_id", "jss", "feedback_score", "contracts"}
    assert "404" in spec["paths"]["/freelancers/{freelancer_id}/score"]["get"]["responses"]


def test_pages_render_and_errors_are_pages(client, engine):
    fid = engine.projections.freelancers()[0]
    assert client.get("/").status_code == 200
    page = client.get(f"/ui/freelancers/{fid}")
    assert page.status_code == 200 and 'id="jss-chart"' in page.text
    public = client.get(f"/ui/freelancers/{fid}", params={"audience": "public"})
    assert public.status_code == 200 and 'id="jss-chart"' in public.text
    assert "/changes/" not in public.text and 'id="contracts"' not in public.text  # the score only
    assert client.get(f"/ui/freelancers/{fid}/changes/1", params={"audience": "public"}).status_code == 400
    missing = client.get("/ui/freelancers/f-999999")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert client.get(f"/ui/freelancers/{fid}/changes/999999").status_code == 404
    assert client.get("/ui/whatif", params={"rules": "jss-2016"}).status_code == 200
    assert client.get("/ui/whatif", params={"rules": "nope"}).status_code == 400


def test_whatif_command_prints_what_the_api_answers(home, client):
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-c", "from engine.cli import main; main()", "--home", str(home), "whatif"]
    at = ["--rules", "jss-2016", "--at", "2020-06-01T00:00:00Z"]
    done = subprocess.run([*cmd, *at, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(done.stdout)
        == client.get("/whatif", params={"rules": "jss-2016", "at": "2020-06-01T00:00:00Z"}).json()
    )
    text = subprocess.run([*cmd, *at], capture_output=True, text=True, timeout=120)
    out = json.loads(done.stdout)
    assert f"gain {out['gain']}, lose {out['lose']}" in text.stdout
    assert all(m["freelancer_id"] in text.stdout for m in out["movers"])
    bad = subprocess.run([*cmd, "--rules", "jss-1999"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "jss-1999" in bad.stderr


@pytest.mark.postgres
def test_postgresql_store_served_with_the_projector_inside(tmp_path, pg_schema):  # noqa: F811
    settings = Settings(home=str(tmp_path / "home"), store=PG_URL, pg_schema=pg_schema, trust_token=TOKEN)
    with reputation.open(settings) as engine:
        engine.ingest(simulate(6, 24, SEED))  # not projected: the server's thread does it
        with TestClient(create_app(settings, interval=0.05)) as c:
            deadline = time.monotonic() + 60
            while (h := c.get("/healthz").json())["lag_events"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert h["store"] == "postgresql" and h["lag_events"] == 0 and h["projected"] == h["position"] > 0
            fid = engine.projections.freelancers()[0]
            assert c.get(f"/freelancers/{fid}/score", headers=TRUST).json() == builtins(engine.score(fid))
            assert c.get("/whatif", params={"rules": "jss-2016"}).status_code == 200


def test_several_workers_with_the_projector_beside_them(tmp_path):
    """`serve --workers 2`: the workers answer, the supervising process follows the log."""
    import json
    import urllib.request

    from engine.serve.load import started_server, wait_level

    home = tmp_path / "home"
    lines = list(simulate(8, 24, SEED))
    with reputation.open(str(home)) as e:
        e.ingest(lines[:300])
        with started_server(["--home", str(home)], {"REPUTATION_TRUST_TOKEN": TOKEN}, serve=("--workers", "2")) as url:
            e.ingest(lines[300:])  # after the start: only the projector beside the workers folds it
            wait_level(url, timeout=60)
            fid = e.projections.freelancers()[0]
            request = urllib.request.Request(f"{url}/freelancers/{fid}/score", headers=TRUST)
            with urllib.request.urlopen(request, timeout=30) as r:
                assert json.load(r) == builtins(e.score(fid))
            with urllib.request.urlopen(f"{url}/healthz", timeout=30) as r:
                h = json.load(r)
            assert h["projected"] == h["position"] == len(lines) and h["projector"] is None


def test_the_pages_in_each_audience(client, engine):
    """Every freelancer page and change view renders in each audience, and without the token
    none of them shows a private answer (the words of the event lines, not the engine's)."""
    forbidden = forbidden_words(list(simulate(25, 36, SEED)))
    betrayed = 0
    for fid in engine.projections.freelancers()[:6]:
        published = [e["published_at"] for e in builtins(engine.history(fid, audience="freelancer"))]
        ledger = client.get(f"/freelancers/{fid}/history", headers=TRUST).json()  # without restated entries
        trust = client.get(f"/ui/freelancers/{fid}", headers=TRUST)
        assert trust.status_code == 200 and trust.text.count('<g class="step') == 2 * len(ledger)
        betrayed += any(w in trust.text for w in forbidden[fid])
        page = client.get(f"/ui/freelancers/{fid}")
        assert page.status_code == 200, page.text
        assert page.text.count('<g class="step') == 2 * len(published)  # the JSS and the feedback charts
        assert_no_private(page.text, forbidden[fid], f"the page of {fid}")
        for n in range(1, len(published) + 1):
            change = client.get(f"/ui/freelancers/{fid}/changes/{n}")
            assert change.status_code == 200, change.text
            assert published[n - 1][:16].replace("T", " ") in change.text
            assert_no_private(change.text, forbidden[fid], f"change #{n} of {fid}")
        assert client.get(f"/ui/freelancers/{fid}/changes/{len(published) + 1}").status_code == 404
    assert betrayed, "the trust pages show private answers (else this test could not fail)"
