"""Runs a libtest binary built for wasm32-wasip1 under wasmtime (the PyPI `wasmtime` wheel).

Used by `cargo xtask wasi`; runnable alone:

    python wasi_runner.py TEST.wasm HOST_DIR GUEST_DIR [libtest args...]

The guest sees exactly one directory: HOST_DIR, preopened at GUEST_DIR, whose guest path is
also in the environment as TEMPDIRS_WASI_ROOT. Nothing else of the host is reachable.

wasm32-wasip1 aborts on panic, so a failing test ends the whole run. The runner lists the
tests first, notes a test that aborted as failed, and runs the ones not yet finished again,
until a run finishes. It prints the
libtest output, then one summary line per binary ("N passed, N failed, N ignored"), the
tests that printed lines starting with `unsupported:`, and exits non-zero on a failure.
"""

import os
import re
import sys

import wasmtime

ROOT_VAR = "TEMPDIRS_WASI_ROOT"
RESULT = re.compile(r"^test (\S+) \.\.\. ")
OUTCOME = re.compile(r"(ok|FAILED|ignored)\s*$")
UNSUPPORTED = re.compile(r"unsupported:\s*(.*)")


def run_once(module, engine, host_dir, guest_dir, args, echo=True):
    """One instance of the binary. Returns (exit code, stdout text)."""
    chunks = []

    def out(data):
        chunks.append(data)
        if echo:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()

    wasi = wasmtime.WasiConfig()
    wasi.argv = ["it", *args]
    wasi.env = [[ROOT_VAR, guest_dir]]
    wasi.preopen_dir(host_dir, guest_dir)
    wasi.stdout_custom = out
    wasi.inherit_stderr()
    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, module)
    code = 0
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        code = e.code
    except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
        # A panic under panic=abort is a trap (`unreachable`), not an exit.
        print(f"wasi_runner: trapped: {str(e).splitlines()[0]}", file=sys.stderr)
        code = 134
    return code, b"".join(chunks).decode("utf-8", "replace")


def parse(text):
    """(results {test: outcome}, unsupported [(test, what)], last started test or None)."""
    results, unsupported = {}, []
    current = None
    for line in text.splitlines():
        started = RESULT.match(line)
        if started:
            current = started.group(1)
            line = line[started.end():]
        found = UNSUPPORTED.search(line)
        if found:
            unsupported.append((current, found.group(1).strip()))
        done = OUTCOME.search(line)
        if current is not None and done and (started or line.strip() == done.group(1)):
            results[current] = done.group(1)
            current = None
    return results, unsupported, current


def list_tests(module, engine, host_dir, guest_dir, args):
    """The names of the tests `args` select, from libtest's `--list`."""
    _, text = run_once(module, engine, host_dir, guest_dir, [*args, "--list", "--format", "terse"], echo=False)
    return [line[: -len(": test")] for line in text.splitlines() if line.endswith(": test")]


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    wasm, host_dir, guest_dir, *args = sys.argv[1:]
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, wasm)
    # Filters choose the tests once; flags (--ignored, ...) go to every run.
    flags = [a for a in args if a.startswith("-")]
    remaining = list_tests(module, engine, host_dir, guest_dir, args)
    # No threads on wasip1; --nocapture lets `unsupported:` lines of passing tests through.
    base = ["--test-threads=1", "--nocapture", "--exact", *flags]
    results, unsupported = {}, []
    code = 0
    # Each pass runs the tests not yet finished; an abort ends one test and the pass.
    while remaining:
        code, text = run_once(module, engine, host_dir, guest_dir, base + remaining)
        got, unsup, unfinished = parse(text)
        results.update(got)
        unsupported.extend(unsup)
        if code == 0 or unfinished is None:
            break
        print(f"wasi_runner: {unfinished} aborted the run; running the rest", file=sys.stderr)
        results[unfinished] = "FAILED"
        remaining = [t for t in remaining if t not in results]
    counts = {k: sum(1 for v in results.values() if v == k) for k in ("ok", "FAILED", "ignored")}
    print()
    print(f"wasi: {counts['ok']} passed, {counts['FAILED']} failed, {counts['ignored']} ignored")
    for name, outcome in sorted(results.items()):
        if outcome == "FAILED":
            print(f"  failed: {name}")
    tests_reporting = sorted({name or "?" for name, _ in unsupported})
    print(f"wasi: {len(unsupported)} unsupported report(s) from {len(tests_reporting)} test(s)")
    for name, what in unsupported:
        print(f"  unsupported: {name or '?'}: {what}")
    failed = counts["FAILED"] > 0 or (code != 0 and not results)
    return 1 if failed else 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: after a trap, wasmtime's native runtime can panic while
    # being torn down, which would turn the verdict into an abort.
    os._exit(status)
