#!/usr/bin/env python3
"""Run the integration tests against a server binary.

    python3 tests/integration/run.py --bin build/lux [--test-bin build/lux-test]
                                     [--asan | --tsan] [-k SUBSTRING]... [-j N]

Prints one line per test, "ok NAME", "ok NAME # skip REASON" or "not ok NAME" followed by
detail lines indented by two spaces; exits 1 when any test failed. Tests run on a small thread
pool; the ones marked serial run alone afterwards.
"""

import argparse
import concurrent.futures
import importlib
import inspect
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def discover(patterns):
    tests = []
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        mod = importlib.import_module(fname[:-3])
        group = fname[len("test_"):-3]
        fns = [f for n, f in vars(mod).items()
               if n.startswith("test_") and inspect.isfunction(f) and f.__module__ == mod.__name__]
        fns.sort(key=lambda f: f.__code__.co_firstlineno)
        for f in fns:
            name = f"{group}.{f.__name__[len('test_'):]}"
            if not patterns or any(p in name for p in patterns):
                tests.append((name, f))
    return tests


def describe(exc):
    """Failure detail: the message, where in the test file it happened, and any cause."""
    lines = []
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        frames = [fr for fr in traceback.extract_tb(exc.__traceback__)
                  if os.path.basename(fr.filename).startswith("test_")]
        where = f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}: " if frames else ""
        if isinstance(exc, harness.TestFailure):
            lines.append(where + str(exc))
        else:
            lines.extend(traceback.format_exception(type(exc), exc, exc.__traceback__)[-4:])
        exc = None if exc.__suppress_context__ else exc.__context__
        if exc is not None:
            lines.append("(while handling:)")
    out = []
    for chunk in lines:
        out.extend(chunk.rstrip("\n").split("\n"))
    return out


def run_one(name, fn):
    reason = getattr(fn, "skip_unless_lux", None)
    if reason and harness.is_lighttpd():
        return "skip", [reason]
    start = time.monotonic()
    try:
        fn()
    except harness.Skip as e:
        return "skip", [str(e)]
    except BaseException as e:  # noqa: BLE001 — every failure becomes a "not ok" line
        return "fail", describe(e) + [f"({time.monotonic() - start:.1f}s)"]
    return "ok", []


def report(name, result):
    status, detail = result
    if status == "ok":
        print(f"ok {name}", flush=True)
    elif status == "skip":
        print(f"ok {name} # skip {detail[0]}", flush=True)
    else:
        print(f"not ok {name}", flush=True)
        for line in detail:
            print("  " + line, flush=True)
    return status != "fail"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="server binary to test")
    ap.add_argument("--test-bin", help="the same build with the test-only modules (default: "
                    "lux-test beside --bin, when it is there)")
    ap.add_argument("--asan", action="store_true", help="binary built with ASan/UBSan")
    ap.add_argument("--tsan", action="store_true", help="binary built with ThreadSanitizer")
    ap.add_argument("-k", dest="patterns", action="append",
                    help="run only tests whose name contains this (repeatable: any of them)")
    ap.add_argument("-j", dest="jobs", type=int, default=4, help="parallel tests (default 4)")
    opts = ap.parse_args()

    harness.BIN = os.path.abspath(opts.bin)
    test_bin = opts.test_bin or os.path.join(os.path.dirname(harness.BIN), "lux-test")
    if os.access(test_bin, os.X_OK) and not harness.is_lighttpd():
        harness.TEST_BIN = os.path.abspath(test_bin)
    elif opts.test_bin:
        print(f"not ok integration.setup\n  {opts.test_bin}: not an executable")
        return 1
    harness.ASAN = opts.asan
    harness.TSAN = opts.tsan
    if not os.access(harness.BIN, os.X_OK):
        print(f"not ok integration.setup\n  {opts.bin}: not an executable")
        return 1

    tests = discover(opts.patterns)
    parallel = [t for t in tests if not getattr(t[1], "serial", False)]
    serial = [t for t in tests if getattr(t[1], "serial", False)]
    all_ok = True
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
            futures = [(name, pool.submit(run_one, name, fn)) for name, fn in parallel]
            for name, fut in futures:
                all_ok &= report(name, fut.result())
        for name, fn in serial:
            all_ok &= report(name, run_one(name, fn))
    finally:
        stray = harness.kill_strays()
        if stray:
            print("not ok integration.no_stray_processes")
            print(f"  killed leftover server processes: {stray}")
            all_ok = False
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
