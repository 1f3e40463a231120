"""The model card embtune writes: sizes, settings and metrics, and no training examples.

sentence-transformers' own card embeds training samples (support tickets would leak) and is written for
every checkpoint; :func:`write_model_card` replaces it after each save.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.workspace import write_text


def write_model_card(model_dir: str | Path, info: dict) -> None:
    """Replace sentence-transformers' card (which embeds training samples) with one that has none."""
    lines = ["---", "library_name: sentence-transformers", "tags: [sentence-transformers, embtune]", "---", "",
             "# Fine-tuned with embtune", "",
             "This card is written by embtune. It lists data sizes, settings and metrics, and deliberately no "
             "training examples (support tickets must not leak).", ""]
    for k, v in info.items():
        lines.append(f"- **{k}**: {json.dumps(v) if not isinstance(v, str) else v}")
    write_text(Path(model_dir) / "README.md", "\n".join(lines) + "\n")
