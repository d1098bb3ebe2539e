"""The README's settings table, generated from the settings models so that it can never drift from them.

``python -m monitor.core.settings_table`` rewrites the table between the README's markers; a test fails
when the committed table differs from the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from monitor.core.config import EarshotSettings, Target
from monitor.core.settings_base import Section


def _section_in(ann: Any) -> tuple[type[Section] | None, bool]:
    """(Section class, is a list) for ``X``, ``X | None`` and ``list[X]`` annotations; (None, False) else."""
    if isinstance(ann, type) and issubclass(ann, Section):
        return ann, False
    for arg in getattr(ann, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, Section):
            return arg, getattr(ann, "__origin__", None) is list
    return None, False


def _shown(default: Any) -> str:
    return "unset" if default is None else str(default)


def _rows(model: type[BaseModel], prefix: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(TOML key, default, meaning) per setting; list items appear as ``rules[].name`` (TOML only)."""
    rows: list[tuple[str, str, str]] = []
    for name, f in model.model_fields.items():
        path = (*prefix, name)
        section, is_list = _section_in(f.annotation)
        if section is not None and section is not Target:
            default = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
            if is_list or default is None:
                rows.append((".".join(path), f"`{_shown(default)}`", f.description or ""))
            rows.extend(_rows(section, (*path[:-1], path[-1] + ("[]" if is_list else ""))))
            continue
        if section is Target:
            rows.append((".".join(path), "`[]`", f.description or ""))
            rows.extend(_rows(Target, (*path[:-1], path[-1] + "[]")))
            continue
        if f.is_required():
            shown = "required"
        else:
            default = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
            shown = _shown(default)
        rows.append((".".join(path), f"`{shown}`", f.description or ""))
    return rows


def _env_name(key: str) -> str:
    """The environment variable of a TOML key; list items (``[]``) are set in the TOML file only."""
    if "[]" in key:
        return "(TOML only)"
    return "`EARSHOT_" + "__".join(p.upper() for p in key.split(".")) + "`"


def settings_table() -> str:
    """Every setting as a Markdown table row (environment variable, default, meaning) for the README."""
    lines = ["| environment variable (TOML key) | default | meaning |", "|---|---|---|"]
    for key, default, desc in _rows(EarshotSettings, ()):
        lines.append(f"| {_env_name(key)} (`{key}`) | {default} | {desc} |")
    return "\n".join(lines)


def write_readme_table(readme: Path) -> None:
    """Refresh the settings table between the README's markers."""
    start, end = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{settings_table()}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    write_readme_table(Path(__file__).resolve().parents[2] / "README.md")
