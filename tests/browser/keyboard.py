"""Checks every page's keyboard use shares: a visible focus ring, targets big enough."""

# What a keyboard or a finger aims at; a check box or radio inside a label is aimed at
# through its label, which is what is measured then.
SMALL_TARGETS = """() => {
  const found = [];
  for (const node of document.querySelectorAll("a.button, a.icon-button, .pagination a, button, input, select, summary, .result-media")) {
    if (node.type === "hidden" || node.closest("[hidden], .visually-hidden")) continue;
    const target = (node.type === "checkbox" || node.type === "radio") && node.closest("label") || node;
    const box = target.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not drawn (a closed disclosure)
    if (box.width < 24 || box.height < 24) found.push(`${node.outerHTML.slice(0, 90)}: ${box.width}x${box.height}`);
  }
  return found;
}"""

FOCUS_RING = """() => {
  const node = document.activeElement;
  if (node === document.body) return null;  // tabbed past the last stop
  const style = getComputedStyle(node);
  // The sticky top bar must not hide what is focused (WCAG 2.4.11).
  const bar = document.querySelector(".topbar");
  const box = node.getBoundingClientRect();
  const onTop = document.elementFromPoint(box.left + box.width / 2, box.top + 2);
  const covered = Boolean(bar && onTop) && !node.contains(onTop) && bar.contains(onTop) && !bar.contains(node);
  return {
    what: node.outerHTML.slice(0, 90),
    ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 && !covered,
  };
}"""


def small_targets(page) -> list[str]:
    return page.evaluate(SMALL_TARGETS)


def unringed_focus_stops(page, stops: int, key: str = "Tab") -> list[str]:
    """Tab through the first `stops` focusable elements; those focused without a visible
    ring (none drawn, or under the sticky top bar)."""
    missing = []
    for _ in range(stops):
        page.keyboard.press(key)  # "Shift+Tab" walks back up the page
        focused = page.evaluate(FOCUS_RING)
        if focused is None:
            break
        if not focused["ring"]:
            missing.append(focused["what"])
    return missing
