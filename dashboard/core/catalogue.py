"""The tools and styles a form offers, read from the (cached) catalogue: shared by the
Generate form and the run form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from dashboard import genapi
from dashboard.core.responses import Notice
from dashboard.core.slots import DEFAULT_SLOTS, Slot, slots_for

DEFAULT_TOOL = "fashion_swap"


@dataclass
class ToolChoice:
    """The tools offered, the one a request asks for, its styles, and why any of them
    could not be read (each None when it could); `notices` say what the page should."""

    tools: list[genapi.Tool]
    tools_problem: str | None
    tool: genapi.Tool | None
    styles: list[genapi.Style] = field(default_factory=list)
    styles_problem: str | None = None
    notices: list[Notice] = field(default_factory=list)

    @property
    def unusable(self) -> str | None:
        """Why no form can be drawn at all, or None."""
        if self.tool is not None:
            return None
        return self.tools_problem or "The generation service offers no tools right now."

    @property
    def slots(self) -> tuple[Slot, ...]:
        assert self.tool is not None
        return slots_for(self.tool.name, self.tool.group)

    @property
    def tool_groups(self) -> list[tuple[str, list[genapi.Tool]]]:
        groups: dict[str, list[genapi.Tool]] = {}
        for tool in self.tools:
            groups.setdefault(tool.group, []).append(tool)
        return list(groups.items())

    def style_from_link(self, wanted: str) -> str:
        """The style a link asks for (`?style=`), if this tool offers it; else none, said."""
        if not wanted or not self.styles:  # no styles could be read: the page says so already
            return ""
        if any(style.id == wanted for style in self.styles):
            return wanted
        assert self.tool is not None
        self.notices.append(
            Notice(f"The style of that link is not offered for {self.tool.title} now: choose one below.", "warning")
        )
        return ""


def tool_from_form(data: Mapping[str, str]) -> genapi.Tool | None:
    """The tool a posted form names, taken on trust: only while the catalogue cannot be
    read, so the designer's images are kept rather than dropped with the page."""
    name, group = data.get("tool", ""), data.get("tool_group", "")
    if not genapi.is_valid_id(name):
        return None
    return genapi.Tool(
        name=name, title=name.replace("_", " ").title(), group=group if group in DEFAULT_SLOTS else "default"
    )


def pick_tool(tools: list[genapi.Tool], name: str | None) -> genapi.Tool | None:
    by_name = {tool.name: tool for tool in tools}
    if name:
        return by_name.get(name)
    return by_name.get(DEFAULT_TOOL) or (tools[0] if tools else None)


def choose_tool(data: Mapping[str, str], *, posted: bool, with_styles: bool = True) -> ToolChoice:
    """The catalogue as a form needs it: the tool named by `data` (the URL or the posted
    form), the default tool with a notice when that one is not offered, and a posted
    form's own tool when the catalogue cannot be read."""
    try:
        tools, tools_problem = genapi.tools(), None
    except genapi.GenApiError as exc:
        tools, tools_problem = [], exc.message
    choice = ToolChoice(tools, tools_problem, pick_tool(tools, data.get("tool")))
    if choice.tool is None and tools_problem and posted:
        choice.tool = tool_from_form(data)
    if choice.tool is None and tools and not tools_problem:
        choice.notices.append(Notice("That tool is not offered. Choose one of the tools below.", "error"))
        choice.tool = pick_tool(tools, None)
    if choice.tool is not None and with_styles:
        try:
            choice.styles = genapi.styles(choice.tool.name)
        except genapi.GenApiError as exc:
            choice.styles_problem = exc.message
    return choice


# --- Titles: what the history's tools and styles are called ----------------------------


@dataclass(frozen=True)
class Catalogue:
    tools: dict[str, genapi.Tool]
    styles: dict[str, genapi.Style]

    def tool_title(self, name: str | None) -> str:
        if not name:
            return "Unknown tool"
        if name in self.tools:
            return self.tools[name].title
        if name in self.styles:  # an upstream that names the style where the tool goes
            return self.tool_title(self.styles[name].tool)
        return name.replace("_", " ").title()

    def tool_of(self, item: genapi.HistoryItem) -> str:
        """The tool that made an item, also when the upstream names its style instead."""
        if item.tool in self.styles and item.tool not in self.tools:
            return self.styles[item.tool].tool
        return item.tool or ""

    def style_title(self, item: genapi.HistoryItem) -> str:
        for candidate in (item.style_id, item.tool):
            if candidate in self.styles:
                return self.styles[candidate].title
        return ""

    def snapshot(self) -> dict:
        """As JSON, to be kept (the sync keeps the one pages read)."""
        return {
            "tools": [asdict(tool) for tool in self.tools.values()],
            "styles": [asdict(style) for style in self.styles.values()],
        }

    @classmethod
    def from_snapshot(cls, snapshot: dict) -> Catalogue:
        tools = [genapi.Tool(**tool) for tool in snapshot.get("tools", [])]
        styles = [genapi.Style(**style) for style in snapshot.get("styles", [])]
        return cls(tools={tool.name: tool for tool in tools}, styles={style.id: style for style in styles})

    def styles_by_tool(self) -> list[tuple[genapi.Tool, list[genapi.Style]]]:
        grouped = [(tool, [s for s in self.styles.values() if s.tool == tool.name]) for tool in self.tools.values()]
        return [(tool, styles) for tool, styles in grouped if styles]


def catalogue() -> Catalogue:
    """Tools and every tool's styles, as the sync process last read them: pages title
    results without an upstream call."""
    from dashboard.models import SyncState

    snapshot = SyncState.objects.filter(name="history").values_list("catalogue", flat=True).first()
    # Before the sync's first read, results are titled by their tools' names.
    return Catalogue.from_snapshot(snapshot) if snapshot else Catalogue(tools={}, styles={})
