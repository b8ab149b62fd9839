#!/usr/bin/python3
"""The calls between the C files of src/, read from the built objects (nm).

Fails (exit 1) when files call each other in a circle, directly or round a
longer loop (issue 22: each file sits above what it uses), or when
eventstore.h files a declaration under another file than the one that
defines it.  Notes, without failing, the functions eventstore.h declares
that no other file calls (they could be static).  Needs the objects of a
build (make); `-v` prints every file -> file edge with the names it uses.

    /usr/bin/python3 test/lib/file_calls.py [-v] [SRC_DIR]
"""
import glob
import os
import re
import subprocess
import sys

args = [a for a in sys.argv[1:] if a != '-v']
src = args[0] if args else os.path.join(os.path.dirname(__file__), '..', '..', 'src')
sources = sorted(glob.glob(os.path.join(src, '*.c')))
objects = [s[:-2] + '.o' for s in sources]
missing = [o for o in objects if not os.path.exists(o)]
if missing:
    print('not ok - no objects to read (run make first):', ' '.join(missing))
    sys.exit(1)

defined, used = {}, {}
for obj in objects:
    name = os.path.basename(obj)[:-2] + '.c'
    used[name] = set()
    out = subprocess.run(['nm', obj], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'U':
            used[name].add(parts[1])
        elif len(parts) == 3 and parts[1] in 'TDBRC':
            defined[parts[2]] = name

edges = {f: {} for f in used}
for f, names in used.items():
    for n in names:
        if n in defined and defined[n] != f:
            edges[f].setdefault(defined[n], set()).add(n)

# Strongly connected components (Tarjan): each of more than one file is a circle.
index, low, stack, on_stack, circles = {}, {}, [], set(), []


def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        part = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            part.append(w)
            if w == v:
                break
        if len(part) > 1:
            circles.append(sorted(part))


for f in sorted(edges):
    if f not in index:
        visit(f)

fails = 0
for c in circles:
    fails += 1
    print('not ok - these files call each other in a circle:', ' '.join(c))
    for a in c:
        for b in sorted(edges[a]):
            if b in c:
                print('    %s -> %s: %s' % (a, b, ', '.join(sorted(edges[a][b]))))

# eventstore.h: each declaration under a comment naming the file that defines it.
section, called_elsewhere = [], set().union(*used.values())
for line in open(os.path.join(src, 'eventstore.h')):
    if line.startswith('/*') or line.startswith(' * src/'):
        named = re.findall(r'src/(\w+\.c)', line)
        if named:
            section = named
    m = re.match(r'extern\s[^(;]*?\b(es_\w+)\s*[(;]', line)
    if not m:
        continue
    n = m.group(1)
    home = defined.get(n)
    if home is None or home not in section:
        fails += 1
        print('not ok - eventstore.h files %s under %s; it is defined in %s'
              % (n, ' '.join(section) or 'no file', home or 'no file'))
    elif n not in called_elsewhere:
        print('note: %s (%s) is declared in eventstore.h but only its own file uses it'
              % (n, home))

if '-v' in sys.argv:
    for a in sorted(edges):
        for b in sorted(edges[a]):
            print('%s -> %s: %s' % (a, b, ', '.join(sorted(edges[a][b]))))
print('%s - %d files, %d calls between files, %d circles'
      % ('ok' if fails == 0 else 'not ok', len(edges),
         sum(len(e) for e in edges.values()), len(circles)))
sys.exit(1 if fails else 0)
