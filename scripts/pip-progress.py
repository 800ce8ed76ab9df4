#!/usr/bin/env python3
"""pip's output for `make tools`: short, and never silent for more than a few seconds.

It passes on the lines that say where pip is (`Collecting ...`, `Successfully installed
...`), cut to 100 characters, each as soon as pip writes it. Once pip has collected
everything, it installs it without a word, for a minute or more on a first run. So from
then on, after every few seconds without a line, this prints how many of the collected
packages are in place, counting their .dist-info folders in the venv's site-packages.

usage: pip install ... | pip-progress.py VENV
Standard library only: it runs with the python3 that created the venv.
"""
import glob
import os
import re
import select
import sys
import time

WIDTH = 100
QUIET_SECONDS = 5
SHOWN = re.compile(rb"^(Collecting|Successfully installed) ")
INSTALLING = re.compile(rb"^Installing collected packages: (.*)$")


def installed(venv):
    return len(glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "*.dist-info")))


def show(text):
    sys.stdout.write(text[:WIDTH] + "\n")
    sys.stdout.flush()


def main(venv):
    stdin = sys.stdin.buffer.fileno()
    pending = b""
    collected = before = None  # the packages being installed, and what was there before
    last_line = time.monotonic()
    while True:
        ready, _, _ = select.select([stdin], [], [], 1.0)
        if not ready:
            if collected and time.monotonic() - last_line >= QUIET_SECONDS:
                done = min(max(installed(venv) - before, 0), collected)
                show(f"  {done} of {collected} installed")
                last_line = time.monotonic()
            continue
        chunk = os.read(stdin, 65536)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            line = line.rstrip(b"\r")
            installing = INSTALLING.match(line)
            if installing:
                collected = len(installing.group(1).split(b", "))
                before = installed(venv)
                show(f"Installing the {collected} collected packages")
            elif SHOWN.match(line):
                show(line.decode("utf-8", "replace"))
            else:
                continue
            last_line = time.monotonic()
    if pending and SHOWN.match(pending):
        show(pending.decode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
