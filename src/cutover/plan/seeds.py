"""The seed plans shipped in the package: named by their name, copied out to be edited.

`cutover demo --plan demo` finds `demo.yaml` here when no file of that name is
in the working directory; `cutover init DIR` copies them (with their mappings and
carry-back files) into a folder of the user's own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cutover.errors import UsageError

SEEDS = Path(__file__).resolve().parent.parent / "plans"
"""The packaged plans: `cutover/plans/*.yaml`, `mappings/`, `carry-back/`."""


def seed_names() -> list[str]:
    return sorted(p.stem for p in SEEDS.glob("*.yaml"))


def resolve_plan(given: str | Path) -> Path:
    """A plan file: `given` as a path if it exists, else the packaged plan of that name."""
    path = Path(given)
    if path.exists():
        return path
    text = str(given)
    if "/" not in text and "\\" not in text:
        seed = SEEDS / (text if text.endswith(".yaml") else f"{text}.yaml")
        if seed.is_file():
            return seed
    raise UsageError(
        f"{given}: no such plan file, and no packaged plan of that name "
        f"(packaged: {', '.join(seed_names())})"
    )


def copy_seeds(directory: Path) -> list[Path]:
    """Copy the packaged plans into `directory` (refusing to overwrite); the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in SEEDS.rglob("*.yaml") if p.is_file())
    clashes = [directory / p.relative_to(SEEDS) for p in sources]
    existing = [str(p) for p in clashes if p.exists()]
    if existing:
        raise UsageError(f"{existing[0]}: already exists; cutover init never overwrites a file")
    written = []
    for source, target in zip(sources, clashes, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    return written
