/**
 * Packs a source directory into the .tar.gz the bundles route takes. Leaves out what never belongs in a
 * build's input: `.git`, `node_modules` (the build installs its own), and whatever the directory's
 * `.gitignore` / `.slipwayignore` name, read with the common subset of gitignore rules (comments,
 * `!` negation, a trailing `/` for directories only, a leading or inner `/` to anchor, `*`, `?`, `**`).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';

const ALWAYS_EXCLUDED = ['.git/', 'node_modules/'];

interface Rule {
  regex: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches any number of directories (also none); a trailing `**` matches everything inside.
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else out += '[^/]*';
    } else if (ch === '?') out += '[^/]';
    else out += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return out;
}

export function parseIgnore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.replace(/\s+$/, '');
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1);
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.slice(0, -1);
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    if (!line) continue;
    const body = globToRegex(line);
    rules.push({ regex: new RegExp(anchored ? `^${body}$` : `(?:^|/)${body}$`), negate, dirOnly });
  }
  return rules;
}

/** Whether a path (relative, with `/`) is excluded: the last matching rule wins, as in git. */
export function isIgnored(rules: Rule[], rel: string, isDir: boolean): boolean {
  let ignored = false;
  for (const r of rules) {
    if (r.dirOnly && !isDir) continue;
    if (r.regex.test(rel)) ignored = !r.negate;
  }
  return ignored;
}

export function ignoreRulesOf(dir: string): Rule[] {
  const rules = parseIgnore(ALWAYS_EXCLUDED.join('\n'));
  for (const name of ['.gitignore', '.slipwayignore']) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) rules.push(...parseIgnore(fs.readFileSync(file, 'utf8')));
  }
  // .git and node_modules stay out even if an ignore file re-includes them.
  rules.push(...parseIgnore(ALWAYS_EXCLUDED.join('\n')));
  return rules;
}

export interface PackedBundle {
  data: Buffer;
  files: number;
}

/** The directory's contents at the archive's root, gzip-compressed. */
export async function packDirectory(dir: string): Promise<PackedBundle> {
  const root = path.resolve(dir);
  const st = fs.statSync(root, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw new Error(`${dir} is not a directory`);
  const rules = ignoreRulesOf(root);
  let files = 0;
  const filter = (p: string, stat: fs.Stats | tar.ReadEntry): boolean => {
    const rel = p.replace(/^\.\//, '').replace(/\\/g, '/');
    const isDir = 'isDirectory' in stat && typeof stat.isDirectory === 'function' ? stat.isDirectory() : false;
    if (isIgnored(rules, rel, isDir)) return false;
    if (!isDir) files++;
    return true;
  };
  const top = fs.readdirSync(root).filter((name) => filter(name, fs.lstatSync(path.join(root, name))));
  files = 0;
  if (!top.length) throw new Error(`${dir} has nothing to deploy`);
  const stream = tar.c({ gzip: true, cwd: root, portable: true, follow: false, filter }, top);
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  if (!files) throw new Error(`${dir} has no files to deploy (everything is excluded)`);
  return { data: Buffer.concat(chunks), files };
}
