import { it } from 'node:test';
import assert from 'node:assert/strict';
import { planBundle, type BundleEntry } from './bundle-entries.ts';

const file = (p: string): BundleEntry => ({ path: p, type: 'File' });
const dir = (p: string): BundleEntry => ({ path: p, type: 'Directory' });
const symlink = (p: string, linkpath: string): BundleEntry => ({ path: p, type: 'SymbolicLink', linkpath });
const hardlink = (p: string, linkpath: string): BundleEntry => ({ path: p, type: 'Link', linkpath });

const cases: { name: string; entries: BundleEntry[]; strip: 0 | 1; refused?: string[] }[] = [
  { name: 'files at the top level are kept where they are', entries: [file('package.json'), dir('lib/'), file('lib/a.js')], strip: 0 },
  { name: 'a single top directory is stripped', entries: [dir('app-1a2b/'), file('app-1a2b/package.json'), file('app-1a2b/lib/a.js')], strip: 1 },
  { name: 'a single top directory without its own entry is stripped', entries: [file('./app/package.json'), file('./app/server.js')], strip: 1 },
  { name: 'leading ./ entries do not count as a top directory', entries: [dir('./'), file('./package.json'), file('./server.js')], strip: 0 },
  { name: 'one file alone is not a directory to strip', entries: [file('server.js')], strip: 0 },
  { name: 'an empty top directory is not stripped away', entries: [dir('empty/')], strip: 0 },
  { name: 'relative symlinks inside the tree are fine', entries: [file('docs/README.md'), symlink('README.md', 'docs/README.md'), symlink('docs/up', '../README.md')], strip: 0 },
  { name: 'a symlink inside a stripped tree may point to a sibling', entries: [file('top/a/x.js'), symlink('top/b', 'a/x.js')], strip: 1 },
  { name: 'a hard link to an earlier file is fine', entries: [file('top/a.js'), hardlink('top/b.js', 'top/a.js')], strip: 1 },
  { name: 'a climbing path is refused', entries: [file('ok.txt'), file('../evil.txt')], strip: 0, refused: ['../evil.txt'] },
  { name: 'a climbing path in the middle is refused', entries: [file('a/../../evil.txt')], strip: 0, refused: ['a/../../evil.txt'] },
  { name: 'an absolute path is refused', entries: [file('ok.txt'), file('/tmp/evil.txt')], strip: 0, refused: ['/tmp/evil.txt'] },
  { name: 'a symlink to an absolute path is refused', entries: [file('ok.txt'), symlink('etc', '/etc')], strip: 0, refused: ['etc'] },
  { name: 'a symlink climbing out of the tree is refused', entries: [file('ok.txt'), symlink('a/up', '../../x')], strip: 0, refused: ['a/up'] },
  { name: 'a symlink climbing out of a stripped tree is refused', entries: [file('top/ok.txt'), symlink('top/up', '../sibling')], strip: 1, refused: ['top/up'] },
  { name: 'a file written through a symlink is refused', entries: [symlink('d', 'sub'), dir('sub/'), file('d/x.js')], strip: 0, refused: ['d/x.js'] },
  { name: 'a hard link to a file outside the archive is refused', entries: [file('ok.txt'), hardlink('passwd', '/etc/passwd')], strip: 0, refused: ['passwd'] },
  { name: 'a hard link to a file not yet in the archive is refused', entries: [hardlink('b', 'a'), file('a')], strip: 0, refused: ['b'] },
  { name: 'device files and FIFOs are refused', entries: [file('ok'), { path: 'null', type: 'CharacterDevice' }, { path: 'sda', type: 'BlockDevice' }, { path: 'fifo', type: 'FIFO' }], strip: 0, refused: ['null', 'sda', 'fifo'] },
];

for (const c of cases) {
  it(`bundle entries: ${c.name}`, () => {
    const plan = planBundle(c.entries);
    assert.equal(plan.strip, c.strip);
    assert.deepEqual(
      plan.problems.map((p) => /^'([^']*)'/.exec(p)?.[1]),
      c.refused ?? [],
      plan.problems.join('\n'),
    );
  });
}
