"""Acceptance: docs/studio-walkthrough.md followed in the browser as a non-programmer would, on a tiny model,
headless Chromium.

One flow (the steps depend on each other): every page of an empty folder (each says what to do first) →
objective → upload with one bad line → prepare → settings → train (refresh mid-run keeps the run and its chart)
→ compare → side-by-side chat → export → serve → thumbs down with a correction → promote → build the next
version. Every page is saved as a screenshot under the test's pytest output folder, and every page is checked
for what would make a beginner doubt the tool: a raw `None`, a traceback, a Python list, an empty table.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tunesmith.serve import free_port

TRAIN_TIMEOUT_MS = 300_000
TABS = ["Objective", "Data", "Model", "Train", "Evaluate", "Deploy", "Improve"]
# What a non-programmer must never see: Python's missing value, a crash, a Python list or dict printed as is.
NOT_FOR_PEOPLE = {"a raw None": r"\bNone\b", "a traceback": r"Traceback|Unexpected error",
                  "a Python list or dict": r"\['|\[\"|\{'"}
ITEMS = ["frame", "battery", "saddle", "chain", "brake pad", "tyre", "pedal", "light", "lock", "charger", "basket",
         "helmet", "pump", "mirror", "bell", "rack"]
COLOURS = ["red", "blue", "green", "black", "white", "orange", "silver", "yellow"]


def support_lines() -> list[str]:
    lines = []
    for i, item in enumerate(ITEMS):
        colour = COLOURS[i % len(COLOURS)]
        lines.append(json.dumps({"messages": [
            {"role": "user", "content": f"How much is a {colour} {item}?"},
            {"role": "assistant", "content": f"Hello! The {colour} {item} costs {20 + 7 * i} euros. Larkspur"}]}))
        lines.append(json.dumps({"messages": [
            {"role": "user", "content": f"Warranty on the {item}, please, order {1000 + 13 * i}"},
            {"role": "assistant", "content": f"Hi, your {item} has {1 + i % 4} years of cover. Larkspur"}]}))
    lines.insert(6, '{"messages": [{"role": "user", "content": "broken line"')  # line 7 is not valid JSON
    return lines


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def click(page, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()


def set_setting(page, path: str, value) -> None:
    field = page.locator(f"#setting-{path.replace('.', '-')}").locator("input, textarea").first
    field.fill(str(value))
    field.press("Tab")


def upload(page, selector: str, path) -> None:
    """Pick a file as a user does (click the drop zone); it is listed once uploaded."""
    with page.expect_file_chooser() as chooser:
        page.locator(selector).click()
    chooser.value.set_files(str(path))
    # The list shows the stem and the extension in separate spans; the cell's label has the whole name.
    page.locator(f'{selector} [aria-label="{path.name}"]').wait_for(timeout=60_000)


def wait_text(page, selector: str, pattern: str, timeout: int = 30_000) -> None:
    """Wait until the element's visible text matches the regular expression."""
    page.wait_for_function("([sel, pat]) => new RegExp(pat).test(document.querySelector(sel)?.innerText || '')",
                           arg=[selector, pattern], timeout=timeout)


def page_problems(page) -> list[str]:
    """What the visible page shows that a beginner should not see (hidden tabs and components do not count)."""
    seen = page.evaluate("""() => {
        const shown = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
        // A Gradio table is a grid whose first row is its header; a data row has a row index above 1.
        const tables = [...document.querySelectorAll('[role=grid]')].filter(shown);
        const empty = tables.filter(t => ![...t.querySelectorAll('[role=row]')].some(
            r => Number(r.getAttribute('aria-rowindex')) > 1 && r.innerText.trim()));
        return {text: document.body.innerText,
                empty: empty.map(t => t.closest('[id]')?.id || t.innerText.slice(0, 60))};
    }""")
    found = [f"{what}: {re.search(pattern, seen['text']).group(0)!r} in ...{context(seen['text'], pattern)}..."
             for what, pattern in NOT_FOR_PEOPLE.items() if re.search(pattern, seen["text"])]
    return found + [f"an empty table ({where})" for where in seen["empty"]]


def context(text: str, pattern: str) -> str:
    match = re.search(pattern, text)
    return text[max(0, match.start() - 80): match.end() + 80].replace("\n", " | ")


def shot(page, artifacts, name: str) -> None:
    """Save the page as the beginner sees it, then check it shows nothing a beginner should not see."""
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    problems = page_problems(page)
    assert not problems, f"page {name}: " + "; ".join(problems)


def runs_table_text(page) -> str:
    return page.locator("table", has=page.locator("th", has_text="validation loss")).inner_text()


def chart_has_both_curves(page) -> bool:
    chart = page.locator("#loss-chart")
    return "train" in chart.inner_text() and "validation" in chart.inner_text()


def cli_text(page, name: str) -> str:
    return page.locator(f"#cli-{name}").inner_text()


@pytest.mark.timeout(1500)
def test_the_walkthrough_in_the_browser(studio, browser, tiny_lm_dir, tmp_path, artifacts):
    url, root = studio
    data_file = tmp_path / "support.jsonl"
    data_file.write_text("\n".join(support_lines()) + "\n", encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(30_000)
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(url)
    try:
        every_page_of_an_empty_folder(page, artifacts)
        walk_through_the_lifecycle(page, root, data_file, tiny_lm_dir, artifacts)
    except Exception:
        page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
        print("browser console:", *console[-30:], sep="\n")
        raise


def every_page_of_an_empty_folder(page, artifacts):
    """Before anything exists, each page says what to do first and shows its terminal command."""
    first_steps = {"Objective": "No project in this folder yet", "Data": "Start on the Objective page",
                   "Model": "Start on the Objective page", "Train": "Start on the Objective page",
                   "Evaluate": "Start on the Objective page", "Deploy": "Start on the Objective page",
                   "Improve": "Start on the Objective page"}
    for number, tab in enumerate(TABS, start=1):
        open_tab(page, tab)
        page.get_by_text(first_steps[tab]).filter(visible=True).first.wait_for()
        assert "tunesmith" in cli_text(page, tab.lower()), tab
        shot(page, artifacts, f"0-empty-{number}-{tab.lower()}")
    open_tab(page, "Objective")


def walk_through_the_lifecycle(page, root, data_file, tiny_lm_dir, artifacts):

    # 1. Objective: the wizard writes tunesmith.yaml; the terminal command follows the answers.
    page.get_by_label("Project name").fill("bike-support")
    page.get_by_label("What problem does it solve?").fill("Answer questions about our bikes.")
    page.get_by_label("Who will use it?").fill("Customers.")
    page.get_by_label("What does a good answer look like?").fill("Short, friendly, exact prices.")
    wait_text(page, "#cli-objective", "--description 'Answer questions about our bikes.'")
    click(page, "Write tunesmith.yaml")
    page.get_by_text("Next: add your examples").wait_for()
    assert "bike-support" in (root / "tunesmith.yaml").read_text()
    assert len(page.locator("#objective-yaml").inner_text().splitlines()) < 40  # the user's choices, not every default
    shot(page, artifacts, "1-objective")

    # 2. Data: the empty state explains the format; upload a file with one bad line; the problem names the line.
    open_tab(page, "Data")
    page.get_by_text("No data files yet").wait_for()
    upload(page, "#data-files", data_file)
    click(page, "Add files and check them")
    page.get_by_text("1 problem(s) found").wait_for()
    problems = page.locator("#data-issues").inner_text()
    assert re.search(r"support\.jsonl\s+7\s+invalid JSON", problems), problems
    click(page, "Prepare dataset")
    page.get_by_text("Prepared dataset version").wait_for(timeout=120_000)
    page.locator("#data-preview").get_by_text("costs").first.wait_for()
    assert "tunesmith data prepare" in cli_text(page, "data")
    shot(page, artifacts, "2-data")

    # 3. Model & settings: the tiny model, a preset, then a few settings in the generated panel.
    open_tab(page, "Model")
    model_box = page.locator("#model-name input")
    # Wait for the page to show the project's state first, so that its refresh cannot overwrite what we type.
    page.get_by_text("This project trains").wait_for()
    page.wait_for_function("() => document.querySelector('#model-name input')?.value === 'smollm2-135m-instruct'")
    model_box.fill(str(tiny_lm_dir))
    model_box.press("Enter")
    page.get_by_label("Quick try (minutes, to check everything works)").check()
    wait_text(page, "#cli-model", "--preset quick")
    click(page, "Apply model and preset")
    page.get_by_text("Saved model and preset").wait_for()
    assert str(tiny_lm_dir) in (root / "tunesmith.yaml").read_text()
    page.get_by_text("Advanced: every setting").click()
    for section in ("model", "training", "evaluation"):
        page.locator(f"#settings-{section} > button.label-wrap").click()
    # Enough steps that the 1.5 s poll sees the run while it is still running; few enough that the improve
    # cycle at the end (which trains again with these settings) stays short.
    for path, value in {"model.max_length": 64, "training.max_steps": 120, "training.epochs": 100,
                        "training.batch_size": 4,
                        "training.eval_every": 20, "evaluation.max_examples": 4, "evaluation.max_new_tokens": 6,
                        "evaluation.bootstrap_samples": 100}.items():
        set_setting(page, path, value)
    click(page, "Save all settings")
    page.get_by_text("Saved every setting").wait_for()
    saved = yaml.safe_load((root / "tunesmith.yaml").read_text())
    assert saved["training"]["max_steps"] == 120, saved["training"]
    assert (saved["model"]["name"], saved["model"]["max_length"]) == (str(tiny_lm_dir), 64), saved["model"]
    shot(page, artifacts, "3-model")

    # 4. Train in the background; a refresh mid-run keeps the run and its live chart.
    open_tab(page, "Train")
    page.get_by_text("No runs yet").wait_for()
    click(page, "Start training")
    page.get_by_text("Training started").wait_for()
    page.wait_for_function("() => /running/.test(document.querySelector('#runs-table')?.innerText || '')",
                           timeout=60_000)
    page.wait_for_function("() => /step [1-9]/.test(document.querySelector('#run-progress')?.innerText || '')",
                           timeout=120_000)
    page.reload()
    open_tab(page, "Train")
    page.wait_for_function("() => /step [1-9]/.test(document.querySelector('#run-progress')?.innerText || '')")
    # The chart is drawn by the next poll after the progress line; wait for it rather than race it.
    page.wait_for_function("() => (document.querySelector('#loss-chart')?.innerText || '').includes('train')",
                           timeout=30_000)
    shot(page, artifacts, "4-train-running")
    page.wait_for_function("() => /completed/.test(document.querySelector('#runs-table')?.innerText || '')",
                           timeout=TRAIN_TIMEOUT_MS)
    run_dir = next((root / "runs").iterdir())
    final_step = json.loads((run_dir / "run.json").read_text())["steps"]
    page.wait_for_function(f"() => /step {final_step}\\b/.test(document.querySelector('#run-progress')?.innerText)")
    # The chart is redrawn by the same 1.5 s poll; give it a few polls to show the final curves.
    page.wait_for_function("() => { const t = document.querySelector('#loss-chart')?.innerText || '';"
                           " return t.includes('train') && t.includes('validation'); }", timeout=30_000)
    assert chart_has_both_curves(page), page.locator("#loss-chart").inner_text()
    assert f"--run {run_dir.name}" in cli_text(page, "train")
    shot(page, artifacts, "4-train")

    # 5. Evaluate: the comparison table and a side-by-side chat, both models under the run's contract.
    open_tab(page, "Evaluate")
    wait_text(page, "#eval-runs", run_dir.name)
    wait_text(page, "#cli-evaluate", f"tunesmith compare {run_dir.name}")
    click(page, "Compare")
    page.get_by_text("Verdict:").wait_for(timeout=TRAIN_TIMEOUT_MS)
    table = page.locator("#comparison-table").inner_text()
    assert "base" in table and "lora" in table
    page.get_by_label("Your message").fill("How much is a red frame?")
    click(page, "Send to both")
    for side in ("#chat-base", "#chat-tuned"):
        page.locator(side).get_by_text("How much is a red frame?").wait_for(timeout=120_000)
        page.wait_for_function(f"() => document.querySelectorAll('{side} .bot').length > 0", timeout=120_000)
    wait_text(page, "#chat-contract", "Both models answer exactly as the deployed run will")
    shot(page, artifacts, "5-evaluate")

    # 6. Deploy: export with its parity check, start the API server, get an answer over HTTP, correct it.
    open_tab(page, "Deploy")
    page.get_by_text("The API server is not running.").wait_for()
    click(page, "Export")
    page.get_by_text("Parity check").first.wait_for(timeout=TRAIN_TIMEOUT_MS)
    assert list((root / "exports").glob("*-hf/parity.json"))
    port = free_port()
    page.locator("#serve-port input").fill(str(port))
    page.locator("#serve-port input").press("Tab")
    wait_text(page, "#cli-deploy", f"--port {port}")
    click(page, "Start server")
    page.get_by_text("The API server is running at").wait_for(timeout=120_000)
    page.get_by_label("Try a question").fill("How much is a red frame?")
    click(page, "Ask the server")
    page.get_by_text("Answer from the server").wait_for(timeout=120_000)
    assert "chat/completions" in page.locator("#deploy-snippets").inner_text()
    page.get_by_label("Better answer (optional)").fill("The red frame costs 20 euros.")
    click(page, "Needs fixing")
    page.get_by_text("used to train the next version").wait_for()
    shot(page, artifacts, "6-deploy")
    click(page, "Stop server")
    page.get_by_text("The API server is not running.").wait_for()

    # 7. Improve: the correction is listed; the run goes to production; the next version is built from it.
    open_tab(page, "Improve")
    page.get_by_text("No model in production yet").wait_for()
    wait_text(page, "#feedback-table", r"The red frame costs 20 euros\.")
    click(page, "Promote to production")
    page.get_by_text("is now in production").wait_for()
    wait_text(page, "#versions-table", r"\bproduction\b")
    page.get_by_text("No model in production yet").wait_for(state="hidden")
    click(page, "Refresh monitor")
    wait_text(page, "#monitor-summary", r"feedback: 1\b", timeout=60_000)
    wait_text(page, "#monitor-summary", "request logging is off")
    shot(page, artifacts, "7-improve")
    click(page, "Build next version")
    page.get_by_text("Building the next version").first.wait_for()
    wait_text(page, "#build-progress", "Last build finished", timeout=TRAIN_TIMEOUT_MS)
    finished = page.locator("#build-progress").inner_text()
    assert re.search(r"(promoted|kept|skipped):", finished), finished
    if "skipped:" not in finished:  # a trained candidate is listed without a click
        wait_text(page, "#versions-table", r"\bv2\b")
    shot(page, artifacts, "7-improve-next-version")


def test_the_page_check_catches_what_a_beginner_should_not_see(browser):
    page = browser.new_page()
    grid = ('<div id="{id}"><div role="grid"><div role="row" aria-rowindex="1">problem</div>{rows}</div></div>')
    page.set_content("<p>All good: 3 rows, no problems.</p>" + grid.format(id="full", rows=(
        '<div role="row" aria-rowindex="2">line 7</div>')) + '<div style="display:none">None [\'hidden\']</div>')
    assert page_problems(page) == []
    page.set_content("<p>verdict: None</p><p>Traceback (most recent call last)</p><p>labels: ['a', 'b']</p>"
                     + grid.format(id="issues", rows=""))
    assert [problem.split(":")[0] for problem in page_problems(page)] == [
        "a raw None", "a traceback", "a Python list or dict", "an empty table (issues)"]
    page.close()
