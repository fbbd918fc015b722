"""Runs a command; prints '<label> <seconds> <peak RSS in MB>' (RSS of the command itself,
read from wait4's rusage). Exits non-zero, with the command's output, if it fails."""
import os, subprocess, sys, time

label, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
out = p.stdout.read()
_, status, usage = os.wait4(p.pid, 0)
dt = time.monotonic() - t0
code = os.waitstatus_to_exitcode(status)
if code not in (0, 2):
    sys.stderr.write(out.decode(errors="replace")[-4000:])
    sys.exit(f"{label}: exit {code}")
print(f"{label} {dt:.3f} {usage.ru_maxrss / 1024:.0f}")
