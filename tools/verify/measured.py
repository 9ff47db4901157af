"""Run a Python script and record its wall time and peak RSS (the process's own high-water mark,
getrusage ru_maxrss — what a container's memory limit has to allow):

    python tools/verify/measured.py <figures.json> <script.py> [args...]

Writes {"seconds": ..., "peak_rss_bytes": ..., "exit_code": ...} to figures.json, also on failure.
"""
from __future__ import annotations

import json
import resource
import runpy
import sys
import time
from pathlib import Path


def main() -> int:
    out, script, *args = sys.argv[1:]
    sys.argv = [script, *args]
    sys.path.insert(0, str(Path(script).resolve().parent))
    started = time.monotonic()
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:  # the script's own exit (argparse, a failed check)
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
    finally:
        # Linux reports ru_maxrss in KiB (macOS in bytes; this tool targets Linux worker images).
        figures = {"seconds": round(time.monotonic() - started, 2),
                   "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "exit_code": code}
        Path(out).write_text(json.dumps(figures) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
