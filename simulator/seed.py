"""Seed the history with plausible items for demos and tests.

Items are mixed across tools, mostly complete with real result images, some failed, a
couple still pending (with real inputs, so the worker of a running simulator finishes
them shortly after), spread over the past 30 days with mixed feedback.

Speed matters (250 items in a few seconds, possibly while the server runs), so each tool
renders a small pool of distinct composites once and every item gets a copy of one of
them; all rows are then inserted in a single short transaction.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from simulator import imaging
from simulator.catalog import GENERATION_TYPES, TOOLS, TOOLS_BY_NAME, Tool
from simulator.config import SimulatorConfig
from simulator.store import DataDir, HistoryRecord, Status, Store, new_object_id

DAY = 86_400.0
POOL_SIZE = 6  # distinct renders per tool; enough variety for a grid to look alive

# Relative weights: try-on dominates, like in a fashion studio's real history.
TOOL_WEIGHTS: dict[str, int] = {
    "fashion_swap": 30,
    "fashion_swap_half": 12,
    "fashion_card": 8,
    "lego_clothes": 5,
    "mamasfit": 6,
    "lengerie": 5,
    "furniture": 14,
    "fabric": 10,
    "default": 10,
}

SampleMaker = Callable[[random.Random], Image.Image]
SAMPLES: dict[str, SampleMaker] = {
    "clothes": imaging.sample_garment,
    "person": imaging.sample_person,
    "furniture": imaging.sample_furniture,
    "room": imaging.sample_room,
    "fabric": imaging.sample_fabric,
    "product": imaging.sample_product,
    "image": imaging.sample_photo,
}

SEED_ERRORS = ("The generation failed: processing error",)


@dataclass
class _Render:
    png: bytes
    webp: bytes


def _sample_inputs(tool: Tool, rng: random.Random) -> dict[str, Image.Image]:
    return {slot: SAMPLES[slot](rng) for slot in tool.slots}


def _render(tool: Tool, rng: random.Random) -> _Render:
    result = imaging.compose(tool.group_tool, _sample_inputs(tool, rng))
    png, webp = io.BytesIO(), io.BytesIO()
    result.save(png, format="PNG", compress_level=3)
    imaging.fit(result, imaging.PREVIEW_MAX_SIDE).save(webp, format="WEBP", quality=80, method=3)
    return _Render(png.getvalue(), webp.getvalue())


def _plan_statuses(count: int, rng: random.Random) -> list[Status]:
    """A couple pending, ~10% error, the rest complete, in random order."""
    pending = min(2, count)
    errors = min(count - pending, round(count * 0.1))
    plan: list[tuple[Status, int]] = [("pending", pending), ("error", errors), ("complete", count - pending - errors)]
    statuses = [status for status, times in plan for _ in range(times)]
    rng.shuffle(statuses)
    return statuses


def seed(config: SimulatorConfig, count: int, rng: random.Random | None = None) -> list[str]:
    """Insert ``count`` history items into the data dir of ``config``; returns their ids."""
    rng = rng or random.Random()
    paths = DataDir(config.data_dir)
    store = Store(paths)
    now = time.time()
    tool_names = list(TOOL_WEIGHTS)
    weights = [TOOL_WEIGHTS[name] for name in tool_names]
    pools: dict[str, list[_Render]] = {}
    records: list[HistoryRecord] = []
    try:
        for status in _plan_statuses(count, rng):
            tool = TOOLS_BY_NAME[rng.choices(tool_names, weights)[0]]
            types = GENERATION_TYPES[tool.tool]
            type_id = rng.choice(types).id if types and rng.random() < 0.7 else None
            if status == "pending":
                # Recent, and due soon: a running simulator visibly finishes them.
                created_at = now - rng.uniform(1, 20)
                due_at = now + rng.uniform(10, 40)
            else:
                created_at = now - rng.uniform(60, 30 * DAY)
                due_at = created_at + rng.uniform(3, 30)
            record = HistoryRecord(
                id=new_object_id(created_at),
                tool=tool.tool,
                generation_type_id=type_id,
                status=status,
                created_at=created_at,
                due_at=due_at,
            )
            records.append(record)  # before writing files, so a failure cleans them up
            if status == "complete":
                pool = pools.setdefault(tool.tool, [])
                if len(pool) < POOL_SIZE:
                    pool.append(_render(tool, rng))
                render = rng.choice(pool)
                paths.result(record.id, "png").write_bytes(render.png)
                paths.result(record.id, "webp").write_bytes(render.webp)
                record.finished_at = due_at
                record.like = rng.choices([True, False, None], [3, 1, 5])[0]
            elif status == "error":
                record.finished_at = due_at
                record.error = rng.choice((*SEED_ERRORS, tool.empty_subject_error))
            else:
                folder = paths.upload_dir(record.id)
                folder.mkdir(parents=True, exist_ok=True)
                for slot, image in _sample_inputs(tool, rng).items():
                    image.save(folder / f"{slot}.png", format="PNG", compress_level=3)
                    record.inputs[slot] = (folder / f"{slot}.png").relative_to(paths.root).as_posix()
        store.insert_many(records)
    except BaseException:
        # Leave no files behind for rows that were never inserted.
        for record in records:
            paths.remove_item_files(record.id)
        raise
    finally:
        store.close()
    return [record.id for record in records]


# A tool added to or dropped from the catalogue must get a weight here: fail at import
# rather than seeding a history that silently never shows the new tool.
_missing = set(TOOL_WEIGHTS) ^ {tool.tool for tool in TOOLS}
if _missing:
    raise RuntimeError(f"TOOL_WEIGHTS and the catalogue disagree on: {sorted(_missing)}")
