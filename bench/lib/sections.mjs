// docs/benchmarks.md holds the output of several benchmark scripts. Each script owns the whole file
// except the sections other scripts own, marked <!-- section:NAME --> … <!-- /section:NAME -->:
// rewriting the file keeps them, and a script that owns a section replaces only that.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const pattern = (name) => new RegExp(`<!-- section:${name} -->[\\s\\S]*?<!-- /section:${name} -->\\n?`);
const ANY = /<!-- section:([\w-]+) -->[\s\S]*?<!-- \/section:\1 -->\n?/g;

/** The marked sections of `file` (all of them), to append to a rewritten file. */
export function keptSections(file) {
  if (!existsSync(file)) return '';
  return [...readFileSync(file, 'utf8').matchAll(ANY)].map((m) => m[0].trimEnd() + '\n').join('\n');
}

/** Replaces (or appends) section `name` of `file` with `body`. */
export function writeSection(file, name, body) {
  const block = `<!-- section:${name} -->\n${body.trimEnd()}\n<!-- /section:${name} -->\n`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const next = pattern(name).test(current)
    ? current.replace(pattern(name), block)
    : `${current.trimEnd()}\n\n${block}`;
  writeFileSync(file, next);
}
