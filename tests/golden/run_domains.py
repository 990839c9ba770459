#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Domain documents written for LOKI (tests/golden/domains/<module>/): violating.txt must FAIL
every gate listed in expected_fails.txt; compliant.txt must come back LOW risk with no FAIL.
usage: run_domains.py LOKI DOMAINS_DIR"""
import json, os, subprocess, sys

def verdict(loki, path):
    p = subprocess.run([loki, 'check', '--format', 'json', '--type', 'unknown', '--fail-on',
                        'none', path], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit(f'{path}: loki exited {p.returncode}: {p.stderr.strip()}')
    return json.loads(p.stdout)

def main():
    loki, root = sys.argv[1], sys.argv[2]
    passed = failed = 0
    for m in sorted(os.listdir(root)):
        d = os.path.join(root, m)
        if not os.path.isfile(os.path.join(d, 'violating.txt')):
            continue
        v = verdict(loki, os.path.join(d, 'violating.txt'))
        for line in open(os.path.join(d, 'expected_fails.txt')):
            gate = line.strip()
            if not gate or gate.startswith('#'):
                continue
            mod, g = gate.split('.', 1)
            st = v['modules'].get(mod, {}).get('gates', {}).get(g, {}).get('status')
            if st == 'FAIL':
                passed += 1
            else:
                failed += 1
                print(f'FAIL {m}/violating.txt: {gate} is {st}')
        v = verdict(loki, os.path.join(d, 'compliant.txt'))
        fails = [f'{mm}.{g}' for mm, mr in v['modules'].items()
                 for g, gr in mr['gates'].items() if gr['status'] == 'FAIL']
        if v['overall_risk'] == 'LOW' and not fails:
            passed += 1
        else:
            failed += 1
            print(f'FAIL {m}/compliant.txt: risk {v["overall_risk"]}, FAILs: {" ".join(fails)}')
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0

if __name__ == '__main__':
    sys.exit(main())
