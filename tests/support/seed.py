"""The seed's nine tools exactly as shared/seed/api-examples.txt lists them."""

SEED_TOOLS = [
    {"group_tool": "fashion", "tool": "lego_clothes", "title": "Lego Clothes"},
    {"group_tool": "fashion", "tool": "mamasfit", "title": "MamasFit"},
    {"group_tool": "fashion", "tool": "lengerie", "title": "Lengerie"},
    {"group_tool": "fashion", "tool": "fashion_card", "title": "Fashion Card"},
    {"group_tool": "fashion", "tool": "fashion_swap", "title": "Fashion Swap"},
    {"group_tool": "fashion", "tool": "fashion_swap_half", "title": "Fashion Swap Half"},
    {"group_tool": "interior", "tool": "furniture", "title": "Furniture"},
    {"group_tool": "textile", "tool": "fabric", "title": "Fabric"},
    {"group_tool": "default", "tool": "default", "title": "Default"},
]
