#!/usr/bin/env python3
"""Reads the app's --frame-log (src/app/frame_log.rs) and checks that the last change the
background work announced was painted within GRACE seconds, by a frame painted before the
window was told to close (QUIT seconds): a result computed while nobody touches the mouse must
be drawn (issue 28). Exit status 1 with the reason otherwise.

    frame-log-check.py LOG QUIT [GRACE]
"""
import sys


def main():
    path, quit_at = sys.argv[1], float(sys.argv[2])
    grace = float(sys.argv[3]) if len(sys.argv) > 3 else 2.5
    painted, changes = [], None
    with open(path) as log:
        for line in log:
            fields = line.split()
            if fields[0] == "painted":
                painted.append((float(fields[1]), int(fields[2])))
            elif fields[0] == "changes":
                changes = (int(fields[1]), float(fields[2]))
    if changes is None:
        sys.exit(f"{path}: no closing line: the app did not end by itself")
    count, last = changes
    if count == 0:
        sys.exit(f"{path}: no background change was announced at all")
    if last + grace > quit_at:
        sys.exit(f"{path}: results were still arriving at {last:.2f} s, too near the close at {quit_at} s to judge")
    # frames painted before the close was due (the close itself paints a frame)
    shown = [(t, n) for t, n in painted if t < quit_at - 0.05 and n >= count]
    if not shown:
        seen = max((n for t, n in painted if t < quit_at - 0.05), default=0)
        sys.exit(
            f"{path}: the last of {count} changes (at {last:.2f} s) was never drawn before the close at {quit_at} s: "
            f"frames drawn meanwhile showed {seen} changes (a result waiting for the mouse to move)"
        )
    first = shown[0][0]
    if first > last + grace:
        sys.exit(f"{path}: the last change (at {last:.2f} s) was drawn only at {first:.2f} s")
    print(f"{count} changes, the last at {last:.2f} s drawn at {first:.2f} s")


main()
