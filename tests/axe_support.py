"""axe-core in the browser tests: axe.min.js from the axe-playwright-python wheel (a test extra),
added to the page under test (its context must bypass the pages' CSP)."""
from __future__ import annotations

from pathlib import Path

import pytest


def axe_violations(page, selector: str | None = None) -> list[dict]:
    """axe-core's violations on the whole page, or within the element `selector` names (axe walks
    an open shadow root too): rule id, impact, help, and each failing node."""
    wheel = pytest.importorskip("axe_playwright_python", reason="pip install axe-playwright-python")
    if not page.evaluate("!!window.axe"):
        page.add_script_tag(path=str(Path(wheel.__file__).with_name("axe.min.js")))
    return page.evaluate("""async (selector) => {
        const res = await axe.run(selector ? document.querySelector(selector) : document,
                                  {resultTypes: ['violations']});
        return res.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
    }""", selector)


class AxePages:
    """The pages of a walk through a flow, each checked by axe where it stands, in the language
    it must be shown in; `assert_clean` at the end names every page with a violation."""

    def __init__(self, page, lang: str) -> None:
        self.page, self.lang, self.found = page, lang, {}

    def check(self, name: str) -> None:
        assert self.page.locator("html").get_attribute("lang") == self.lang, name
        self.found[name] = axe_violations(self.page)

    def assert_clean(self) -> None:
        assert {name: found for name, found in self.found.items() if found} == {}
