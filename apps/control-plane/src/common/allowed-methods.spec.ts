import express, { type Request } from 'express';
import { allowedMethods } from './allowed-methods';

/** A real Express app's router, asked the way the problem filter asks it. */
function appWith(routes: (app: express.Express) => void): express.Express {
  const app = express();
  routes(app);
  return app;
}

function ask(app: express.Express, path: string): string[] {
  return allowedMethods({ app, path } as unknown as Request);
}

describe(allowedMethods.name, () => {
  const app = appWith((a) => {
    // Middleware bound to every path for one method (as Nest registers some): not a route of any path.
    a.put('{/*splat}', () => undefined);
    a.get('/api/v1/models', () => undefined);
    a.post('/api/v1/models', () => undefined);
    a.get('/api/v1/rollouts/:id', () => undefined);
    a.delete('/api/v1/rollouts/:id', () => undefined);
    a.post('/api/v1/rollouts/:id/promote', () => undefined);
  });

  it.each([
    ['a collection with GET and POST', '/api/v1/models', ['GET', 'HEAD', 'POST']],
    ['a path with a parameter', '/api/v1/rollouts/7b1c', ['DELETE', 'GET', 'HEAD']],
    ['an action that only takes POST', '/api/v1/rollouts/7b1c/promote', ['POST']],
    ['a path no route has', '/api/v1/nothing-here', []],
    ['a longer path than any route', '/api/v1/rollouts/7b1c/promote/again', []],
  ])('lists the methods for %s', (_name, path, expected) => {
    expect(ask(app, path)).toEqual(expected);
  });

  it('gives none for an app without a router it can read', () => {
    expect(allowedMethods({ app: {}, path: '/x' } as unknown as Request)).toEqual([]);
  });
});
