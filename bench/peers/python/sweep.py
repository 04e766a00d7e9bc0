"""sweep.py DIR MAX_BYTES: the size side-car as it is usually written: walk
the tree, sort the files by mtime, remove the oldest until the usage
(st_blocks * 512) is at or below MAX_BYTES."""
import os
import sys

root, cap = sys.argv[1], int(sys.argv[2])
files, usage = [], 0
for dirpath, dirnames, filenames in os.walk(root):
    for name in filenames:
        path = os.path.join(dirpath, name)
        st = os.lstat(path)
        usage += st.st_blocks * 512
        files.append((st.st_mtime, st.st_blocks * 512, path))
files.sort()
for mtime, size, path in files:
    if usage <= cap:
        break
    os.remove(path)
    usage -= size
print(usage)
