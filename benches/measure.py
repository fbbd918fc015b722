"""Runs a command; prints '<label> <seconds> <peak RSS in MB>' (RSS of the command itself,
read from wait4's rusage). Exits non-zero, with the command's output, if it fails.

    measure.py [--stdout FILE] LABEL COMMAND...

With --stdout, the command's standard output goes to FILE (its standard error is kept for the
failure message); else both are read and dropped."""
import os, subprocess, sys, time

args = sys.argv[1:]
stdout = None
if args[:1] == ["--stdout"]:
    stdout, args = args[1], args[2:]
label, cmd = args[0], args[1:]
sink = open(stdout, "wb") if stdout else None
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=sink or subprocess.PIPE,
                     stderr=subprocess.PIPE if sink else subprocess.STDOUT)
out = (p.stderr if sink else p.stdout).read()
_, status, usage = os.wait4(p.pid, 0)
dt = time.monotonic() - t0
if sink:
    sink.close()
code = os.waitstatus_to_exitcode(status)
if code not in (0, 2):
    sys.stderr.write(out.decode(errors="replace")[-4000:])
    sys.exit(f"{label}: exit {code}")
print(f"{label} {dt:.3f} {usage.ru_maxrss / 1024:.0f}")
