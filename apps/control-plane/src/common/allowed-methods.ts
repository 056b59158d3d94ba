import type { Request } from 'express';

const NO_SUCH_PATH = '/\u0000/no/route/has/this/path';

/** The parts of Express 5's router (`app.router`, the `router` package) this reads. */
interface RouteLayer {
  readonly route?: { _methods?: () => string[] };
  match?: (path: string) => boolean;
}
interface WithRouter {
  readonly router?: { readonly stack?: readonly RouteLayer[] };
}

/**
 * The methods the app routes for this request's path, upper-case and sorted (HEAD with GET, as
 * Express answers it), or none when no route has the path. What turns a wrong method into a 405 with
 * `Allow` instead of a 404 that says the path does not exist. Read from the app's own router, so it
 * is always the routes the app serves; anything unexpected there gives none (the 404 stays).
 */
export function allowedMethods(req: Request): string[] {
  const stack = (req.app as unknown as WithRouter | undefined)?.router?.stack;
  if (!Array.isArray(stack)) return [];
  const layers = stack as readonly RouteLayer[];
  const methods = new Set<string>();
  try {
    for (const layer of layers) {
      if (!layer.route?._methods || typeof layer.match !== 'function') continue;
      // Catch-alls (middleware bound to every path) say nothing about this path's routes.
      if (!layer.match(req.path) || layer.match(NO_SUCH_PATH)) continue;
      for (const m of layer.route._methods()) if (m !== '_all') methods.add(m.toUpperCase());
    }
  } catch {
    return [];
  }
  return [...methods].sort();
}
