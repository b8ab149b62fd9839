#!/usr/bin/python3
"""Runs the SQL examples of README.md and docs/*.md, and checks what they name.

    run_docs.py run FILE.md...     every ```sql block of each file, in order
    run_docs.py refs FILE.md...    every path, link and section the files name;
                                   README's layout table; test/README.md's map;
                                   no benchmark figure outside docs/benchmarks.md
                                   and generated blocks

The convention the documents follow (README.md, "Examples that run"):

* Each document runs in one psql session on a fresh database named "app",
  as a superuser, from the top of the repository (for psql's \i), with psql's output settings below; databases and roles its
  examples create are dropped after it.  The session starts with a fresh
  store (`CREATE EXTENSION eventstore`) unless the document creates it
  itself; roles are created by the document's examples.
* Inside a ```sql block, what psql prints is shown right after the
  statement that prints it: a table (a header line, a line of dashes, the
  rows, up to a blank line), or message lines (`ERROR:  ...`, `DETAIL:  ...`,
  `HINT:  ...`, `NOTICE:  ...`).  That shown output must equal what the
  server prints, after uuids and timestamps are replaced by placeholders
  and runs of blanks are made one (so that hand-aligned columns and
  generated ids compare equal).  A statement without shown output must not
  fail.
* A block that must not run says so and why: ```sql norun <reason>.
"""
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PSQL = os.path.join(os.environ.get('PGBIN', ''), 'psql') if os.environ.get('PGBIN') else 'psql'
DB = 'app'

# psql prints a statement's output, then its messages; these settings are
# the documents' (no row-count footer, no CONTEXT lines, no command tags).
PSQL_SETTINGS = "\\pset footer off\n\\set VERBOSITY default\n\\set SHOW_CONTEXT never\n"

SEPARATOR = re.compile(r'^-+(\+-+)*$')
MESSAGE = re.compile(r'^(ERROR|WARNING|NOTICE|INFO|DETAIL|HINT|CONTEXT|LINE \d+):')


# ---------------------------------------------------------------- parsing

def fenced_blocks(path):
    """(first line number, info string, lines) of each fenced block."""
    blocks, cur, info, start = [], None, None, 0
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if cur is None:
                m = re.match(r'^```\s*(.*)$', line)
                if m:
                    cur, info, start = [], m.group(1).strip(), n + 1
            elif line.startswith('```'):
                blocks.append((start, info, cur))
                cur = None
            else:
                cur.append(line)
    if cur is not None:
        raise SystemExit('%s:%d: unclosed code block' % (path, start - 1))
    return blocks


class Lexer:
    """Just enough of SQL's lexical rules to find where statements end:
    strings, quoted identifiers, dollar quotes, comments, psql's backslash
    commands (which end a statement and the line)."""

    def __init__(self):
        self.state = None      # None, "'", '"', '/*', or a dollar tag
        self.depth = 0         # nested /* */ comments

    def feed(self, line):
        """Yields ('end', index after it) for each statement end in line."""
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if self.state is None:
                if line.startswith('--', i):
                    return
                if line.startswith('/*', i):
                    self.state, self.depth = '/*', 1
                    i += 2
                    continue
                if c in "'\"":
                    self.state = c
                elif c == '$':
                    m = re.match(r'\$([A-Za-z_][A-Za-z_0-9]*)?\$', line[i:])
                    if m and not (i > 0 and (line[i - 1].isalnum() or line[i - 1] == '_')):
                        self.state = m.group(0)
                        i += len(m.group(0))
                        continue
                elif c == ';':
                    yield i + 1
                elif c == '\\':
                    yield n       # a psql command: the rest of the line is its
                    return
            elif self.state == '/*':
                if line.startswith('*/', i):
                    self.depth -= 1
                    if self.depth == 0:
                        self.state = None
                    i += 2
                    continue
                if line.startswith('/*', i):
                    self.depth += 1
                    i += 2
                    continue
            elif self.state in ("'", '"'):
                if c == self.state:
                    if i + 1 < n and line[i + 1] == self.state:
                        i += 2
                        continue
                    self.state = None
            elif line.startswith(self.state, i):
                i += len(self.state)
                self.state = None
                continue
            i += 1


def statements(path, start, lines):
    """The statements of a block: dicts with sql, line and the output the
    document shows for it (None when it shows none)."""
    out, lex, buf, buf_line, i = [], Lexer(), [], start, 0
    while i < len(lines):
        line = lines[i]
        pending = ''.join(buf).strip()
        if lex.state is None and not strip_comments(pending) and out:
            shown, j = shown_output(lines, i)
            if shown is not None:
                if out[-1]['shown'] is not None:
                    raise SystemExit('%s:%d: two outputs shown for one statement' % (path, start + i))
                out[-1]['shown'] = shown
                buf, i = [], j
                continue
        if not buf:
            buf_line = start + i
        pos = 0
        for end in lex.feed(line):
            buf.append(line[pos:end] + '\n')
            sql = ''.join(buf)
            if strip_comments(sql).strip():
                out.append({'sql': sql, 'line': buf_line, 'shown': None})
            buf, pos, buf_line = [], end, start + i
        rest = line[pos:]
        if pos and not buf and not strip_comments(rest) and out:
            # "SELECT ...;  -- a comment" : the comment is the statement's
            out[-1]['sql'] = out[-1]['sql'].rstrip('\n') + rest + '\n'
        elif rest.strip() or buf:
            buf.append(rest + '\n')
        i += 1
    if strip_comments(''.join(buf)).strip():
        raise SystemExit('%s:%d: a statement without its ";"' % (path, buf_line))
    return out


def strip_comments(sql):
    return re.sub(r'--[^\n]*', '', sql).strip()


def shown_output(lines, i):
    """(output lines, next index) if lines[i] starts an output shown in the
    document, else (None, i)."""
    if MESSAGE.match(lines[i]):
        j = i
        while j < len(lines) and (MESSAGE.match(lines[j]) or re.match(r'^\s+\^\s*$', lines[j])):
            j += 1
        return lines[i:j], j
    if lines[i].strip() and not lines[i].startswith('--') and i + 1 < len(lines) and SEPARATOR.match(lines[i + 1].strip()):
        j = i + 2
        while j < len(lines) and lines[j].strip():
            j += 1
        k = j
        while k < len(lines) and MESSAGE.match(lines[k]):
            k += 1
        return lines[i:k], k
    return None, i


# ---------------------------------------------------------------- running

UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
TIMESTAMP = re.compile(r'\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d(:\d\d)?|Z)?')


def normalize(text_lines):
    out = []
    for line in text_lines:
        line = re.sub(r'^psql:[^:]*:\d+: ', '', line)
        line = UUID.sub('<uuid>', line)
        line = TIMESTAMP.sub('<timestamp>', line)
        if SEPARATOR.match(line.strip()):
            line = re.sub(r'-+', '-', line.strip())
        line = ' '.join(line.split())
        if line:
            out.append(line)
    return out


def psql(sql, db, timeout=300):
    env = dict(os.environ, PGDATABASE=db)
    p = subprocess.run(['stdbuf', '-o0', '-e0', PSQL, '-X', '-q', '-f', '-'],
                       input=sql, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return p.stdout


def admin(sql):
    out = psql('\\set ON_ERROR_STOP 1\n' + sql, 'postgres')
    if 'ERROR' in out:
        raise SystemExit('setting up: ' + out)
    return out


def names(query):
    return set(admin('\\pset tuples_only on\n\\pset format unaligned\n' + query).split())


def run_document(path):
    rel = os.path.relpath(path, ROOT)
    steps = []
    for start, info, lines in fenced_blocks(path):
        words = info.split()
        if not words or words[0] != 'sql':
            continue
        if len(words) > 1:
            if words[1] != 'norun' or len(words) < 3:
                print('not ok - %s:%d: a sql block is "sql" or "sql norun <reason>", not "%s"' % (rel, start - 1, info))
                return 1
            print('# %s:%d: not run: %s' % (rel, start - 1, ' '.join(words[2:])))
            continue
        steps.extend(statements(rel, start, lines))
    if not steps:
        return 0

    roles = names("SELECT rolname FROM pg_roles")
    dbs = names("SELECT datname FROM pg_database")
    admin('DROP DATABASE IF EXISTS %s WITH (FORCE);\nCREATE DATABASE %s;\n' % (DB, DB))
    script = [PSQL_SETTINGS]
    # A fresh store, unless the document creates its own (to choose its
    # layout, or to show how) before it uses one.
    first = next((strip_comments(st['sql']) for st in steps
                  if re.search(r'eventstore|\bes_', st['sql'], re.I)
                  and not re.match(r'\s*SET\b', strip_comments(st['sql']), re.I)), '')
    if not re.match(r'\s*CREATE EXTENSION (IF NOT EXISTS )?eventstore\b', first, re.I):
        script.append('\\set ON_ERROR_STOP 1\nCREATE EXTENSION eventstore;\n\\set ON_ERROR_STOP 0\n')
    for n, st in enumerate(steps):
        script.append("\\echo '@@docs-step %d@@'\n" % n)
        script.append(st['sql'])
    script.append("\\echo '@@docs-step end@@'\n")
    try:
        output = psql(''.join(script), DB)
    except subprocess.TimeoutExpired:
        print('not ok - %s: the examples did not finish in time' % rel)
        return 1
    finally:
        cleanup(roles, dbs)

    parts = re.split(r'^@@docs-step (\d+|end)@@\n', output, flags=re.M)
    got = {}
    if parts[0].strip():
        got[-1] = parts[0]
    for k in range(1, len(parts) - 1, 2):
        if parts[k] != 'end':
            got[int(parts[k])] = parts[k + 1]
    fails = 0
    if -1 in got:
        print('not ok - %s: psql said before the first example:\n%s' % (rel, indent(got[-1])))
        fails += 1
    for n, st in enumerate(steps):
        actual = got.get(n)
        where = '%s:%d' % (rel, st['line'])
        if actual is None:
            print('not ok - %s: no output at all (psql stopped?)' % where)
            fails += 1
            break
        lines = actual.rstrip('\n').split('\n') if actual.strip() else []
        if st['shown'] is None:
            errors = [l for l in lines if re.match(r'^(psql:[^:]*:\d+: )?(ERROR|FATAL|PANIC):', l)]
            if errors:
                print('not ok - %s: fails, and the document shows no error:\n%s\n%s' %
                      (where, indent(st['sql'].rstrip()), indent(actual.rstrip())))
                fails += 1
        elif normalize(lines) != normalize(st['shown']):
            print('not ok - %s: the document shows other output than the server prints:\n%s\n'
                  '  shown:\n%s\n  printed:\n%s' % (where, indent(st['sql'].rstrip()),
                                                  indent('\n'.join(st['shown'])), indent(actual.rstrip())))
            fails += 1
    print('%s - %s: %d statements, %d with their output shown' %
          ('ok' if not fails else 'not ok', rel, len(steps), sum(1 for s in steps if s['shown'] is not None)))
    return fails


def cleanup(roles, dbs):
    for d in sorted(names("SELECT datname FROM pg_database") - dbs):
        admin('DROP DATABASE IF EXISTS "%s" WITH (FORCE);\n' % d)
    admin('DROP DATABASE IF EXISTS %s WITH (FORCE);\n' % DB)
    for r in sorted(names("SELECT rolname FROM pg_roles") - roles):
        admin('DROP ROLE IF EXISTS "%s";\n' % r)


def indent(text):
    return '\n'.join('    ' + l for l in text.split('\n'))


# ---------------------------------------------------------------- references

def slug(heading):
    """GitHub's anchor for a heading."""
    s = heading.strip().lower()
    s = re.sub(r'[`*_]', lambda m: '_' if m.group(0) == '_' else '', s)
    s = re.sub(r'[^\w\- ]', '', s)
    return s.replace(' ', '-')


def headings(path):
    hs, in_code = [], False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('```'):
                in_code = not in_code
            elif not in_code:
                m = re.match(r'^#{1,6}\s+(.*?)\s*$', line)
                if m:
                    hs.append(m.group(1))
                # A paragraph or list item led by a bold phrase is a
                # section too ("**Locks.** ...").
                m = re.match(r'^\s*(?:[-*]\s+)?\*\*([^*]+?)\.?\*\*', line)
                if m:
                    hs.append(m.group(1))
    return hs


def has_section(path, section):
    """section: "3.1" (a numbered heading) or a heading's words."""
    for h in headings(path):
        if re.match(r'^\d+(\.\d+)*\.?\s', section + ' '):
            if re.match(r'^%s\.?\s' % re.escape(section), h + ' '):
                return True
        elif h.strip('`') == section or h.startswith(section):
            return True
    return False


# Files the documents name that are made, not stored: the built install
# script, what the benchmark writes, files a procedure of
# docs/releasing.md makes (and its placeholders A, B, V).  PostgreSQL's own
# source files (src/backend/...) are not ours.
MADE = {'eventstore--1.1.sql', 'eventstore--1.2.sql', 'summary.md',
        'eventstore--A--B.sql', 'eventstore--V.sql', 'test/upgrade/sql/api_V.sql',
        'eventstore--1.1--1.2.sql', 'api_1.1.sql', 'expected/api_1.1.out'}
THEIRS = ('src/backend/', 'src/include/')
PATH = re.compile(r'(?<![\w/.$<-])((?:src|test|docs|sql|expected|bench|demo|debian|\.ci)/[\w./*<>-]*[\w*/])')
FILE = re.compile(r'`([\w.-]+\.(?:c|h|sql|spec|pl|pm|sh|md|py|json|control|sha256))`')
SECTION_REF = re.compile(
    r'(?:\[?((?:docs/)?[\w-]+\.md)(?:#[\w-]+)?\]?(?:\([^)\s]*\))?|(?<![\w/])(this document))?'
    r'(?:,|\s)\s*(?:section\s+(\d+(?:\.\d+)*)|(?:section\s+)?"([^"]+)")')


def check_refs(paths):
    fails = 0
    tracked = subprocess.run(['git', 'ls-files'], cwd=ROOT, stdout=subprocess.PIPE, text=True).stdout.split()
    basenames = {os.path.basename(t) for t in tracked}
    for path in paths:
        rel = os.path.relpath(path, ROOT)
        text = open(path, encoding='utf-8').read()
        here = os.path.dirname(path)

        def bad(n, msg):
            nonlocal fails
            print('not ok - %s:%d: %s' % (rel, n, msg))
            fails += 1

        for n, line in enumerate(text.split('\n'), 1):
            for m in re.finditer(r'\]\(([^)\s]+)\)', line):
                target = m.group(1)
                if re.match(r'^[a-z]+:', target):
                    continue
                file, _, anchor = target.partition('#')
                full = os.path.normpath(os.path.join(here, file)) if file else path
                if not os.path.exists(full):
                    bad(n, 'links to %s, which does not exist' % target)
                elif anchor and full.endswith('.md') and anchor not in [slug(h) for h in headings(full)]:
                    bad(n, 'links to %s, but %s has no such heading' % (target, file or rel))
            for m in PATH.finditer(line):
                p = m.group(1).rstrip('.')
                if p in MADE or '<' in p or p.startswith(THEIRS):
                    continue
                # NN_ and 3x_ stand for numbers: src/sql/NN_*.sql, test/security/3x_*
                pattern = re.sub(r'(?<![\w])(\d)x_', r'\1[0-9]_', p.replace('NN_', '[0-9][0-9]_'))
                if not glob.glob(os.path.join(ROOT, pattern)):
                    bad(n, 'names %s, which does not exist' % p)
            for m in FILE.finditer(line):
                name = m.group(1)
                if name not in basenames and name not in MADE and not os.path.exists(os.path.join(ROOT, name)):
                    bad(n, 'names the file %s, which is not in the repository' % name)
        # Sections named across line breaks: join the paragraph's lines.
        flat = re.sub(r'\s*\n\s*', ' ', text)
        for m in SECTION_REF.finditer(flat):
            doc, number, name = m.group(1), m.group(3), m.group(4)
            if doc is None and m.group(2) is None and number is None:
                continue      # a quoted phrase, not after a document's name
            if doc is None:
                target = path
            else:
                target = os.path.join(ROOT, doc) if doc.startswith('docs/') else os.path.join(here, doc)
                if not os.path.exists(target):
                    target = os.path.join(ROOT, 'docs', os.path.basename(doc))
            if not os.path.exists(target):
                continue      # reported as a missing path above
            section = number or name
            if not has_section(target, section):
                print('not ok - %s: names section %s of %s, which has no such heading' %
                      (rel, section if number else '"%s"' % section, os.path.relpath(target, ROOT)))
                fails += 1
    return fails


def check_layout():
    """README's layout table names every source file."""
    text = open(os.path.join(ROOT, 'README.md'), encoding='utf-8').read()
    m = re.search(r'^## Layout\n(.*?)(?=^## |\Z)', text, re.M | re.S)
    if not m:
        print('not ok - README.md has no "## Layout" section')
        return 1
    layout = m.group(1)
    fails = 0
    for pattern in ('src/*.c', 'src/*.h', 'src/sql/*.sql'):
        for f in sorted(glob.glob(os.path.join(ROOT, pattern))):
            if '`%s`' % os.path.basename(f) not in layout and '`%s`' % os.path.relpath(f, ROOT) not in layout:
                print('not ok - README.md\'s layout table does not list %s' % os.path.relpath(f, ROOT))
                fails += 1
    return fails


def check_test_map():
    """test/README.md maps every folder of test/ and every suite, names no
    suite that is gone, and no two suites, TAP tests or attacks share a
    number (the number orders them)."""
    path = os.path.join(ROOT, 'test', 'README.md')
    if not os.path.exists(path):
        print('not ok - test/README.md is missing')
        return 1
    text = open(path, encoding='utf-8').read()
    fails = 0
    tracked = subprocess.run(['git', 'ls-files', 'test'], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True).stdout.split()
    folders = sorted({t.split('/')[1] for t in tracked if t.count('/') >= 2})
    for d in folders:
        if '`test/%s/`' % d not in text:
            print('not ok - test/README.md does not map the folder test/%s/' % d)
            fails += 1
    suites = [os.path.basename(f)[:-3] for f in sorted(glob.glob(os.path.join(ROOT, 'test', 'suites', '*.sh')))]
    for name in suites:
        if not re.search(r'^\| `%s` \|' % re.escape(name), text, re.M):
            print('not ok - test/README.md has no row for the suite %s' % name)
            fails += 1
    for name in re.findall(r'^\| `(\d+_[\w-]+)` \|', text, re.M):
        if name not in suites:
            print('not ok - test/README.md has a row for %s, which is not in test/suites/' % name)
            fails += 1
    for pattern in ('test/suites/*.sh', 'test/t/*.pl', 'test/security/*.sh'):
        seen = {}
        for f in sorted(glob.glob(os.path.join(ROOT, pattern))):
            m = re.match(r'(\d+)_', os.path.basename(f))
            if m:
                seen.setdefault(m.group(1), []).append(os.path.basename(f))
        for number, files in sorted(seen.items()):
            if len(files) > 1:
                print('not ok - %s share the number %s in %s' % (' and '.join(files), number,
                                                               os.path.dirname(pattern)))
                fails += 1
    return fails


# A performance figure: a ratio (1.08 x, 2.4 ×), an instruction count, a
# rate (4,000 appends/s), bytes per event or stream.  Such figures live in
# docs/benchmarks.md; anywhere else only inside a block generated from
# benchmark output, from a line "<!-- BEGIN <name> (bench/<script> writes
# this part) -->" to one starting "<!-- END" (test/README.md, "Figures"), so
# that a new run leaves no stale copy.
FIGURE = re.compile(r"""(?x)
      \d[\d,.]*\s?(?:x|\u00d7)(?=[\s,.;:)|]|$)
    | \d[\d,.]*\s*(?:k\s|M\s)?instructions\b
    | \d[\d,.]*\s*[A-Za-z]*/s\b
    | \d[\d,.]*\s*(?:bytes|B|kB|MB|GB)\s+(?:per|an|a)\s+(?:event|stream)\b
    | \bper\s+billion\s+events\b""")
FIGURES_HOME = 'docs/benchmarks.md'


def check_figures(paths):
    fails = 0
    for path in paths:
        rel = os.path.relpath(path, ROOT)
        if rel == FIGURES_HOME:
            continue
        generated = False
        for n, line in enumerate(open(path, encoding='utf-8').read().split('\n'), 1):
            if re.match(r'<!-- BEGIN .*\(bench/\S+ writes this part\) -->', line):
                generated = True
            elif line.startswith('<!-- END '):
                generated = False
            elif not generated:
                m = FIGURE.search(line)
                if m:
                    print('not ok - %s:%d: a performance figure ("%s") outside a generated block: '
                          'point to %s instead' % (rel, n, m.group(0).strip(), FIGURES_HOME))
                    fails += 1
    return fails


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ('run', 'refs'):
        raise SystemExit(__doc__)
    paths = [os.path.abspath(p) for p in sys.argv[2:]]
    if sys.argv[1] == 'run':
        fails = sum(run_document(p) for p in paths)
    else:
        fails = check_refs(paths) + check_layout() + check_test_map() + check_figures(paths)
        print('%s - paths, links and sections of %d documents; README\'s layout; test/README.md\'s map; '
              'figures only in %s or generated blocks' %
              ('ok' if not fails else 'not ok', len(paths), FIGURES_HOME))
    sys.exit(1 if fails else 0)


if __name__ == '__main__':
    main()
