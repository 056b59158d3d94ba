#!/usr/bin/env node
// Summarises a .heapprofile (from bench/lib/heap-sampling.mjs): the allocation sites with the most
// sampled bytes, by self and (for Aviary's own functions) inclusive of what they call.
//
//   node bench/heap-sampling-summary.mjs /tmp/aviary-heap-survivors-1234.heapprofile [top]
import { readFileSync } from 'node:fs';

const [file, topArg = '30'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/heap-sampling-summary.mjs <file.heapprofile> [top]');
  process.exit(2);
}
const top = Number(topArg);
const { head } = JSON.parse(readFileSync(file, 'utf8'));
const self = new Map();
const inclusive = new Map();
let total = 0;

const nameOf = ({ functionName, url, lineNumber }) =>
  `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, '')}:${lineNumber + 1}`;

function walk(node, onStack) {
  const name = nameOf(node.callFrame);
  total += node.selfSize;
  self.set(name, (self.get(name) ?? 0) + node.selfSize);
  let sum = node.selfSize;
  const stack = new Set(onStack).add(name);
  for (const child of node.children) sum += walk(child, stack);
  if (!onStack.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + sum);
  return sum;
}
walk(head, new Set());

const pct = (b) => `${((100 * b) / total).toFixed(1).padStart(5)}%`;
const rank = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
console.log(`${(total / 1e6).toFixed(1)} MB sampled in ${file}`);
console.log('self:');
for (const [n, b] of rank(self)) console.log(`  ${pct(b)}  ${n}`);
console.log('inclusive, Aviary code:');
for (const [n, b] of rank(new Map([...inclusive].filter(([n]) => /^\S+ (apps|libs)\//.test(n)))))
  console.log(`  ${pct(b)}  ${n}`);
