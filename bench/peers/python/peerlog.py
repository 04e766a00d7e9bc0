# Log-analyzer side-car: find the peer's root, count its log lines.
import os, pathlib, sys, time
import httpx
rel = sys.argv[1] if len(sys.argv) > 1 else "var/log/something"
post_to = sys.argv[2] if len(sys.argv) > 2 else None
once = "--once" in sys.argv
proc = pathlib.Path("/proc")
my_root_inode = (proc / str(os.getpid()) / "root").stat().st_ino
for process in proc.glob("[1-9]*"):
    try:
        inode = (process / "root").stat().st_ino
    except OSError:
        continue
    if inode != my_root_inode:
        break
peer_root = process / "root"
log = peer_root / rel
while True:
    with open(log) as fpin:
        lines = sum(1 for line in fpin)
    if post_to:
        httpx.post(post_to, json=dict(lines=lines))
    print(lines, flush=True)
    if once:
        break
    time.sleep(60)
