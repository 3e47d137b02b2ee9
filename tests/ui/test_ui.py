"""The web page at /ui in real headless Chromium against a real `embedlab serve` (minilm).

The collection ``notes`` holds 4 topics x 8 sentences with ``topic`` and ``year`` metadata
(conftest.py). Every test also checks, on teardown, that the page raised no JavaScript error and
sent no request anywhere but the server.
"""

from __future__ import annotations

import json

import httpx

KEY = "ui-key-3f9c1e7a"


def _results(page) -> list[str]:
    return [t.strip() for t in page.locator("#results li .text").all_inner_texts()]


def test_typing_a_query_shows_the_expected_top_result(visit):
    page = visit.open("search")
    page.locator("#search-query").press_sequentially("a kitten asleep on the couch", delay=15)
    page.wait_for_function(
        "document.querySelector('#results li .text')?.textContent.includes('sofa')"
    )
    assert _results(page)[0] == "The cat slept on the sofa all afternoon."
    # keyword search marks the query's terms in the results
    page.select_option("#search-mode", "keyword")
    page.fill("#search-query", "interest rates")
    page.wait_for_selector("#results li mark")
    first = page.locator("#results li").first.inner_html()
    assert "<mark>interest</mark>" in first and "<mark>rates</mark>" in first
    # a click on a result shows its metadata and its nearest neighbours in the side panel
    page.locator("#results li").first.click()
    page.wait_for_selector("#neighbours li")
    side = page.inner_text("#side")
    assert "topic" in side and "money" in side
    assert page.locator("#neighbours li").count() == 8
    visit.shot("search")


def test_a_filter_narrows_the_results(visit):
    page = visit.open("search")
    page.fill("#search-query", "animals at home")
    page.wait_for_selector("#results li")
    page.wait_for_function("document.querySelectorAll('#results li').length === 10")
    topics = page.locator("#results li .chips").all_inner_texts()
    assert any("topic: pets" not in t for t in topics)  # unfiltered: other topics come in too
    page.fill("#search-filter", '{"topic": "weather", "year": {"$gte": 2022}}')
    page.click("#search-form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#results li').length === 4")
    chips = page.locator("#results li .chips").all_inner_texts()
    assert all("topic: weather" in c for c in chips), chips
    # the items table pages through the collection and narrows with the same filter syntax
    page.click("#tabs button[data-view=collections]")
    page.wait_for_selector("#items tbody tr")
    assert page.locator("#items tbody tr").count() == 25
    assert "32 item(s)" in page.inner_text("#items-count")
    page.click("#items-next")
    page.wait_for_function("document.querySelectorAll('#items tbody tr').length === 7")
    page.fill("#items-filter", '{"topic": "money"}')
    page.click("#items-form button[type=submit]")
    page.wait_for_function("document.querySelector('#items-count').textContent.includes('match')")
    assert page.inner_text("#items-count").startswith("8 item(s)")
    assert page.locator("#items tbody tr").count() == 8
    # a bad filter: the server's own one-line message, shown as it is
    page.fill("#items-filter", '{"topic": {"$like": "mon"}}')
    page.click("#items-form button[type=submit]")
    page.wait_for_selector("#message:not([hidden])")
    assert "unknown operator '$like'" in page.inner_text("#message")
    visit.shot("collections")


def test_a_click_on_a_map_point_shows_its_neighbours(visit, ui_server):
    page = visit.open("map")
    page.wait_for_function("window.embedlabUi.map && window.embedlabUi.map.points > 0")
    timing = page.evaluate("window.embedlabUi.map")
    assert timing["points"] == timing["count"] == 32 and not timing["sampled"]
    status = page.inner_text("#map-status")
    assert "all 32 items" in status and "clusters labelled by c-TF-IDF" in status
    legend = page.inner_text("#map-legend")
    assert "rates" in legend or "bank" in legend or "inflation" in legend  # a money cluster
    box = page.locator("#map-canvas").bounding_box()
    point = page.evaluate("window.embedlabUi.mapPoint('weather-2')")
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])  # hover: the text
    page.wait_for_function("document.querySelector('#map-tip').textContent.includes('heatwave')")
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_selector("#neighbours li")
    neighbours = page.locator("#neighbours li").all_inner_texts()
    weather = {"rain", "snow", "storm", "fog", "breeze", "hurricane", "frost", "heat", "cold"}
    assert any(word in neighbours[0].lower() for word in weather), neighbours
    assert "heatwave" in page.inner_text("#side h3 + p")
    # colour by a metadata field instead of the clusters
    page.select_option("#map-colour", "topic")
    page.wait_for_function("document.querySelector('#map-legend').textContent.includes('topic:')")
    assert "topic: pets" in page.inner_text("#map-legend")
    visit.shot("map-by-topic")
    # a search on the map rings its hits and places the query
    page.fill("#map-query", "snow and cold winds")
    page.click("#map-form button[type=submit]")
    page.wait_for_selector("#map-hits li")
    assert "placed on the map by projecting its vector" in page.inner_text("#side")
    visit.shot("map")
    # panning: the page's own frame timing records every redraw
    before = page.evaluate("window.embedlabUi.frames.length")
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    page.mouse.down()
    for step in range(20):
        page.mouse.move(box["x"] + 200 + 8 * step, box["y"] + 200 + 3 * step)
        page.wait_for_timeout(16)
    page.mouse.up()
    frames = page.evaluate(f"window.embedlabUi.frames.slice({before})")
    assert len(frames) >= 5 and all(f["ms"] >= 0 for f in frames)
    visit.shot("map-panned")

    # the map is cached per collection version: a reload reads it, a change recomputes it
    page.reload()
    page.fill("#api-key", KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_function("window.embedlabUi.ready === true && window.embedlabUi.map")
    assert page.evaluate("window.embedlabUi.map.source") == "memory"
    with httpx.Client(
        base_url=ui_server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as http:
        added = http.post(
            "/v1/collections/notes/add",
            json={"ids": ["extra"], "texts": ["Sleet and hail fell all day."]},
        )
        assert added.status_code == 200, added.text
        fresh = http.get("/v1/ui/collections/notes/map")
        assert fresh.headers["x-embedlab-map-source"] == "computed"
        assert json.loads(fresh.content)["points"] == 33
        http.post("/v1/collections/notes/delete", json={"ids": ["extra"]}).raise_for_status()


def test_the_tokens_view_shows_the_tokens_of_i_love_programming(visit):
    page = visit.open("tokens")
    page.wait_for_selector("#token-list .token")
    assert page.input_value("#tokens-text") == "I love programming."
    tokens = [t.split("\n") for t in page.locator("#token-list .token").all_inner_texts()]
    assert [t[0] for t in tokens] == ["[CLS]", "i", "love", "programming", ".", "[SEP]"]
    assert [int(t[1]) for t in tokens][1:4] == [1045, 2293, 4730]
    assert page.locator("#tokens-out canvas.heat").count() == 3  # lookup, contextual, pooled
    # "bank" in three contexts: a 3x3 cosine matrix, 1 on the diagonal, less elsewhere
    page.click("#contexts-form button[type=submit]")
    page.wait_for_selector("#cosine-matrix")
    cells = page.locator("#cosine-matrix tbody td").all_inner_texts()
    values = [float(c) for c in cells]
    assert len(values) == 9 and values[0] == values[4] == values[8] == 1.0
    assert all(v < 0.99 for i, v in enumerate(values) if i not in (0, 4, 8))
    visit.shot("tokens")


def test_a_wrong_api_key_shows_a_clear_message(visit):
    page = visit.open("search", key=None)
    assert "This server needs an API key" in page.inner_text("#message")
    page.fill("#api-key", "not-the-key")
    page.click("#key-form button[type=submit]")
    page.wait_for_function("window.embedlabUi.ready === 'error'")
    message = page.inner_text("#message")
    assert "refused this API key" in message and "incorrect API key provided" in message
    visit.shot("wrong-key")
    page.fill("#api-key", KEY)  # the right key then works, and is remembered
    page.click("#key-form button[type=submit]")
    page.wait_for_function("window.embedlabUi.ready === true")
    assert page.is_hidden("#message")
    assert page.evaluate("localStorage.getItem('embedlab.apiKey')") == KEY


def test_compare_runs_in_the_background_with_progress(visit):
    page = visit.open("compare")
    page.wait_for_selector("#compare-status:not(:empty)")
    page.fill("#compare-models", "tfidf")
    page.fill("#compare-tasks", "sts")
    page.fill("#compare-limit", "20")
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("#compare-progress:not([hidden])")
    page.wait_for_function(
        "document.querySelector('#compare-progress span').textContent.startsWith('succeeded')",
        timeout=90_000,
    )
    row = page.locator("#compare-table tbody tr").first.inner_text()
    assert row.startswith("tfidf")
    assert page.locator("#compare-chart svg circle").count() == 1
    # the run's results are in compare's cache, which the page reads without measuring
    page.click("#compare-cached")
    page.wait_for_function(
        "document.querySelector('#compare-status').textContent.includes('1 model')"
    )
    assert page.locator("#compare-table tbody tr").first.inner_text().startswith("tfidf")
    visit.shot("compare")


def test_the_page_makes_no_request_outside_the_server(visit):
    page = visit.open("collections")
    page.wait_for_selector("#items tbody tr")
    for view in ("search", "map", "tokens", "compare"):
        page.click(f"#tabs button[data-view={view}]")
        page.wait_for_function("window.embedlabUi.ready === true")
    page.wait_for_selector("#token-list .token", state="attached")
    page.wait_for_selector("#compare-status:not(:empty)", state="attached")
    paths = {url.removeprefix(visit.server.url).split("?")[0] for url in visit.requests}
    assert {"/ui", "/ui/static/js/main.js", "/v1/ui/info", "/tokenize"} <= paths
    assert visit.outside() == []


def test_the_pages_endpoints_answer_in_the_servers_error_shape(ui_server):
    def error(response: httpx.Response, status: int) -> dict:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"error"} and "\n" not in body["error"]["message"]
        return body["error"]

    with httpx.Client(base_url=ui_server.url, timeout=60) as anonymous:
        assert anonymous.get("/ui").status_code == 200  # the page itself needs no key
        script = anonymous.get("/ui/static/js/main.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert error(anonymous.get("/ui/static/%2e%2e/ui_routes.py"), 404)["code"] == "not_found"
        assert error(anonymous.get("/v1/ui/info"), 401)["code"] == "missing_api_key"
    with httpx.Client(
        base_url=ui_server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as http:
        bad = error(http.get("/v1/ui/collections/notes/items", params={"where": "{bad"}), 400)
        assert bad["code"] == "invalid_filter" and "not valid JSON" in bad["message"]
        page = http.get("/v1/ui/collections/notes/items", params={"offset": 30, "limit": 5})
        assert page.json()["total"] == 32 and len(page.json()["data"]) == 2
        missing = http.post("/v1/ui/collections/notes/neighbors", json={"id": "nope"})
        assert error(missing, 404)["code"] == "item_not_found"
        assert error(http.get("/v1/ui/collections/nothere/map"), 404)["code"] == (
            "collection_not_found"
        )
        word = http.post("/v1/ui/contexts", json={"word": "bank", "texts": ["a cat", "a dog"]})
        assert "does not occur in text 1" in error(word, 400)["message"]
        unknown = http.post("/v1/ui/compare/runs", json={"models": "nosuchmodel"})
        assert error(unknown, 404)["code"] == "model_not_found"
        for spec in ("/etc", "../models/x", "remote:m@http://10.0.0.1/v1", "transformer:/tmp"):
            refused = http.post("/v1/ui/compare/runs", json={"models": spec, "tasks": "sts"})
            assert "catalogue models and methods" in error(refused, 400)["message"], spec
        missing_run = http.get("/v1/ui/compare/runs/cmp-000")
        assert error(missing_run, 404)["code"] == "run_not_found"
