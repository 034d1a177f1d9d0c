"""Where the pack's wrappers sit among a run's others. ComfyUI nests the wrappers of one type in the order of their
keys (the first key outermost), which is the order the nodes that added them ran in; some of the pack's must sit
at an end whatever that order was."""
from __future__ import annotations


def order_wrappers(wrappers: dict, kind: str, first: tuple[str, ...] = (), last: tuple[str, ...] = ()) -> None:
    """In a run's ``transformer_options["wrappers"]``: the keys ``first`` outermost, ``last`` innermost, in the
    order given; every other key keeps its place between them."""
    by_key = wrappers.get(kind)
    if not by_key:
        return
    ends = set(first) | set(last)
    wrappers[kind] = {**{k: by_key[k] for k in first if k in by_key},
                      **{k: w for k, w in by_key.items() if k not in ends},
                      **{k: by_key[k] for k in last if k in by_key}}
