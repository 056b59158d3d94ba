import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// There is no Docker engine here to build the images, so what can be checked without one is checked:
// the build stage copies files that exist and .dockerignore does not hide, every app target runs an
// entry point that the build produces, and the runtime runs as an unprivileged user. The runtime
// stage's file set itself is run by test/production-topology.e2e-spec.ts.

const root = join(__dirname, '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const stages = new Map(
  dockerfile
    .split(/^FROM /m)
    .slice(1)
    .map((s) => [/ AS (\S+)/.exec(s.split('\n')[0] ?? '')?.[1] ?? '', s]),
);
const ignored = readFileSync(join(root, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('Dockerfile', () => {
  it('has a build stage, a runtime stage and one target per app', () => {
    expect([...stages.keys()]).toEqual(['build', 'runtime', 'control-plane', 'router', 'analyzer']);
  });

  it('copies into the build only files that exist and are not excluded by .dockerignore', () => {
    const build = stages.get('build')!;
    const sources = [...build.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      expect({ src, exists: existsSync(join(root, src)) }).toEqual({ src, exists: true });
      expect({ src, ignored: ignored.includes(src) }).toEqual({ src, ignored: false });
    }
  });

  it('installs production dependencies only in what it ships', () => {
    expect(stages.get('build')).toMatch(/npm prune --omit=dev/);
    expect(stages.get('runtime')).toMatch(/COPY --from=build \/src\/node_modules \/app\/node_modules/);
    expect(stages.get('runtime')).toMatch(/ENV NODE_ENV=production/);
  });

  it('runs as an unprivileged numeric user (Kubernetes can verify runAsNonRoot)', () => {
    const user = /^USER (\d+):(\d+)$/m.exec(stages.get('runtime')!);
    expect(user).not.toBeNull();
    expect(Number(user![1])).toBeGreaterThan(0);
  });

  it.each([
    ['control-plane', 'apps/control-plane/src/main.ts'],
    ['router', 'apps/router/src/main.ts'],
    ['analyzer', 'apps/analyzer/src/main.ts'],
  ])('the %s target runs the app’s compiled entry point', (target, source) => {
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(stages.get(target)!)![1]!) as string[];
    expect(cmd[0]).toBe('node');
    expect(cmd[1]).toBe(`dist/${source.replace(/\.ts$/, '.js')}`);
    expect(existsSync(join(root, source))).toBe(true);
  });
});
