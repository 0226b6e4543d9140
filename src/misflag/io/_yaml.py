"""YAML read by PyYAML's safe loader with anchors and aliases refused (imported only for YAML files)."""

from __future__ import annotations

from typing import Any

import yaml


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses anchors and aliases (`&a`, `*a`) at the first one it meets.

    An alias makes the loader build the same node again; ten aliases of ten aliases, eight levels deep,
    make a 1 KB file expand into 10^8 nodes (a "billion laughs" file) before any key is checked.
    Settings, rule and mapping files never need them, so none is accepted.
    """

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"anchors and aliases (&name, *name) are not accepted (line {event.start_mark.line + 1})",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """YAML text parsed by the safe loader, anchors and aliases refused (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_NoAliasLoader)
