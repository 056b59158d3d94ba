import { createInterface } from 'node:readline/promises';
import { runCli } from './aviary-cli';

const io = {
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
  confirm: async (question: string): Promise<boolean | null> => {
    if (!process.stdin.isTTY) return null;
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  },
};

runCli(process.argv.slice(2), process.env, io).then(
  (code) => (process.exitCode = code),
  () => (process.exitCode = 1),
);
