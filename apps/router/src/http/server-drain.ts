import type { Server, ServerResponse } from 'node:http';

/**
 * Counts the requests a server is answering and closes it the way a rolling restart needs: stop
 * accepting, let the requests in flight finish (for at most `graceMs`), then cut every connection
 * left. Without the last step a connection a client opened and has not sent a request on yet (an
 * HTTP client's spare connection after an aborted call, a load balancer's TCP probe) is neither idle
 * nor active to node:http: `closeIdleConnections()` leaves it open until `headersTimeout` (66 s here),
 * past the stop timeout, and the router then exits without flushing its evidence.
 */
export class ServerDrain {
  private inFlight = 0;
  private onIdle: (() => void) | null = null;

  constructor(private readonly server: Server) {}

  /** One more request being answered, until its response closes (sent, or the client left). */
  track(res: ServerResponse): void {
    this.inFlight++;
    res.once('close', () => {
      if (--this.inFlight === 0) this.onIdle?.();
    });
  }

  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.server.closeAllConnections();
    await closed;
  }
}
