"""Text column names as the flags give them (standard library only: the CLI parses them before any heavy import)."""

from collections.abc import Sequence


def text_columns(text_column: str | Sequence[str]) -> list[str]:
    """The text column names: one name, a list, or names separated by commas ("subject,body")."""
    names = [text_column] if isinstance(text_column, str) else list(text_column)
    columns = [part.strip() for name in names for part in name.split(",") if part.strip()]
    if not columns:
        raise ValueError(f"No text column given (got {text_column!r}).")
    if len(set(columns)) != len(columns):
        raise ValueError(f"Text columns {columns} name a column more than once.")
    return columns
