import type { DecodedRouting } from '@aviary/flags';
import type { EndpointAdapter, ProxiedRequest } from '../endpoints/endpoint';
import type { RequestScope } from '../http/request-scope';
import type { IdRename } from '../threads/id-renaming';

/** One user request on its way through the router: what every step after routing needs to know. */
export interface Exchange<R extends ProxiedRequest = ProxiedRequest> {
  readonly endpoint: EndpointAdapter<R>;
  readonly request: R;
  readonly routing: DecodedRouting;
  /** The key the split was bucketed on (a stored answer's id carries it to the thread's next turn). */
  readonly stickyKey: string;
  /** 0-99 hash of the stickiness key; null when the request was bucketed at random. */
  readonly bucket: number | null;
  /** performance.now() when the request arrived. */
  readonly t0: number;
  /** The version was forced by the debug header (no fallback, no shadow, not evidence). */
  readonly forced?: boolean;
  /**
   * The stored objects this request names by tagged ids (the answer it continues, its conversation):
   * each upstream id (what the upstream is sent and echoes) and the id as the client sent it.
   */
  readonly restored?: readonly IdRename[];
  /** Time spent evaluating the flag. */
  readonly flagsMs: number;
  /** The HTTP request's access-log facts and request id. */
  readonly scope: RequestScope;
}
