#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Corpus tests: recall on the defect fixtures and precision on the compliant templates.

usage: corpus.py recall|precision LOKI CORPUS_DIR
Exits 77 (skipped) when the corpus is absent (a fresh clone has no ../shared).
Precision pins the number of FAILs over the templates: it may only go down (edit
PRECISION_MAX when it does).
"""
import json, os, subprocess, sys

PRECISION_MAX = 2    # FAILs over the 50 templates (all modules, --type unknown); may only go down
RECALL_MIN = 74      # fixtures that FAIL their named gate

def check(loki, path):
    p = subprocess.run([loki, 'check', '--format', 'json', '--type', 'unknown',
                        '--fail-on', 'none', path], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit(f'{path}: loki exited {p.returncode}: {p.stderr.strip()}')
    return json.loads(p.stdout)

def main():
    mode, loki, corpus = sys.argv[1], sys.argv[2], sys.argv[3]
    if not os.path.isdir(corpus):
        print(f'corpus not found at {corpus}: skipped')
        return 77
    if mode == 'recall':
        hit, missed, n = 0, [], 0
        for line in open(os.path.join(corpus, 'fixtures', 'expected.tsv')):
            if line.startswith('#') or not line.strip():
                continue
            f, g = line.rstrip('\n').split('\t')
            n += 1
            m, gate = g.split('.', 1)
            v = check(loki, os.path.join(corpus, 'fixtures', f))
            st = v['modules'].get(m, {}).get('gates', {}).get(gate, {}).get('status')
            if st == 'FAIL':
                hit += 1
            else:
                missed.append(f'{f} -> {g}={st}')
        print(f'recall: {hit}/{n} fixtures FAIL their named gate')
        for x in missed:
            print('  missed', x)
        return 0 if hit >= min(RECALL_MIN, n) else 1
    fails = []
    tdir = os.path.join(corpus, 'templates')
    for f in sorted(os.listdir(tdir)):
        v = check(loki, os.path.join(tdir, f))
        for m, mr in v['modules'].items():
            for g, gr in mr['gates'].items():
                if gr['status'] == 'FAIL':
                    fails.append(f'{f}: {m}.{g} ({gr["severity"]}): {gr["message"]}')
    print(f'precision: {len(fails)} FAILs over {len(os.listdir(tdir))} templates '
          f'(pinned maximum {PRECISION_MAX})')
    for x in fails:
        print('  ', x)
    return 0 if len(fails) <= PRECISION_MAX else 1

if __name__ == '__main__':
    sys.exit(main())
