"""Accessibility and console checks for the browser tests.

``assert_accessible(page, "the Overview")`` runs axe-core (installed by
``scripts/ensure-axe``) inside the page as it is now and fails listing every violation:
rule, element and axe's message. The script is evaluated through the DevTools protocol,
which the portal's CSP (script nonces only) does not apply to, so the product's CSP stays
as strict in the tests as in production.

``watch_console(page)`` records console errors and uncaught page errors;
``assert_no_console_errors`` fails listing them.
"""

import os
from functools import cache
from pathlib import Path

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(
    os.environ.get(
        "PORTAL_AXE_JS", ROOT / "var" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
    )
)

# WCAG 2.2 A and AA, plus axe's best practices (heading order, landmarks, ...).
RULE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@cache
def _axe_source() -> str:
    if not AXE_JS.is_file():
        raise AssertionError(
            f"axe-core is not installed at {AXE_JS}: run scripts/ensure-axe (make test does)."
        )
    return AXE_JS.read_text()


def violations(page: Page) -> list[dict]:
    """axe-core's violations for the page as it is now (animations settled)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    return page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: tags},
                resultTypes: ["violations"],
            });
            return result.violations.map(v => ({
                rule: v.id,
                help: v.help,
                nodes: v.nodes.map(n => ({
                    target: n.target.join(" "),
                    message: n.failureSummary.replace(/\\s+/g, " ").trim(),
                })),
            }));
        }""",
        RULE_TAGS,
    )


def assert_accessible(page: Page, what: str) -> None:
    """Fails when axe-core finds any violation on ``page``; ``what`` names the page/state."""
    found = violations(page)
    if not found:
        return
    lines = [f"axe-core: {sum(len(v['nodes']) for v in found)} violation(s) on {what}:"]
    for violation in found:
        for node in violation["nodes"]:
            lines.append(
                f"  {violation['rule']} ({violation['help']}) at {node['target']}: "
                f"{node['message']}"
            )
    raise AssertionError("\n".join(lines))


def watch_console(page: Page, errors: list[str] | None = None) -> list[str]:
    """Starts recording the page's console errors and uncaught errors into ``errors`` (a
    new list unless given, so several pages can share one); returns the list."""
    errors = [] if errors is None else errors

    def on_console(message):
        # A request still in flight when the page is left (OK redirects while the name
        # check or a poll runs) is aborted by the browser; htmx logs that as an error.
        # Leaving a page is not a fault of the page: any failed answer still shows as
        # "Failed to load resource" or an htmx response error.
        if message.text.startswith(("htmx:sendAbort", "htmx:afterRequest")):
            return
        if message.type == "error":
            errors.append(f"console.error at {page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught at {page.url}: {error}"))
    return errors


def assert_no_console_errors(errors: list[str], what: str = "the pages visited") -> None:
    if errors:
        raise AssertionError(f"Browser console errors on {what}:\n  " + "\n  ".join(errors))


SPILLING = """() => [...document.querySelectorAll('.button, button, .command')]
    .filter(b => b.offsetParent !== null)
    .filter(b => b.scrollWidth > b.clientWidth + 1 || b.scrollHeight > b.clientHeight + 1)
    .map(b => b.textContent.trim())"""

WIDER_THAN_SCREEN = """() => document.documentElement.scrollWidth > window.innerWidth
    ? [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .filter(e => !e.closest('.grid, .table-scroll, [hidden]'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)
    : []"""


def assert_fits(page: Page, what: str) -> None:
    """No button whose text spills out of it, and no page wider than the screen."""
    spilling = page.evaluate(SPILLING)
    assert spilling == [], f"Button text spills out on {what}: {spilling}"
    wider = page.evaluate(WIDER_THAN_SCREEN)
    assert wider == [], f"{what} is wider than the {page.viewport_size['width']} px screen: {wider}"
