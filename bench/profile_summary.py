"""Summarise a py-spy raw (collapsed stacks) profile: the functions with the most samples, inclusive
(the function or anything it called was on the CPU) and self.

Usage: python bench/profile_summary.py PROFILE.txt [TOP] [--match helpdesk]
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _name(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/helpdesk/", "lib/python3"):
        if marker in path:
            path = ("helpdesk/" if marker == "/helpdesk/" else "") + path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarise(path: Path, top: int = 25, match: str = "") -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";") if f]
        for name in set(frames):
            inclusive[name] += n
        if frames:
            own[frames[-1]] += n
    rows = [f"{total} samples (on CPU; idle waits in the gevent hub are not sampled)", "",
            "inclusive  function"]
    shown = 0
    for name, n in inclusive.most_common():
        if match and match not in name:
            continue
        rows.append(f"{100 * n / total:6.1f} %   {name}")
        shown += 1
        if shown >= top:
            break
    rows += ["", "self       function"]
    rows += [f"{100 * n / total:6.1f} %   {name}" for name, n in own.most_common(12)]
    return "\n".join(rows)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    wanted = sys.argv[sys.argv.index("--match") + 1] if "--match" in sys.argv else ""
    if wanted in args:
        args.remove(wanted)
    print(summarise(Path(args[0]), int(args[1]) if len(args) > 1 else 25, wanted))
