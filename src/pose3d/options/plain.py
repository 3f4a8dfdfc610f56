"""Options as plain types, for ``opt.json``, ``opt.txt`` and the checkpoint's ``opt`` entry."""
import argparse
import os
from typing import Any


def _plain(value: Any) -> Any:
    """``value`` as JSON-compatible plain types (str, int, float, bool, None, list, dict)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return _plain(value.item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(value)


def opt_to_dict(opt: argparse.Namespace | dict) -> dict[str, Any]:
    """Options as a dict of plain types (JSON-ready, loadable by ``torch.load(weights_only=True)``).

    Args:
        opt: a namespace from ``parse`` or a dict.

    Returns:
        ``{name: value}`` sorted by name.
    """
    items = opt.items() if isinstance(opt, dict) else vars(opt).items()
    return {str(k): _plain(v) for k, v in sorted(items, key=lambda kv: str(kv[0]))}
