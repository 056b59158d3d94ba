import type { Request, Response } from 'express';
import { computeEtag, etagMatches } from '@aviary/flags';

/**
 * Answers a feed that routers poll: the JSON with an ETag, or 304 when the poller already has it
 * (an unchanged feed costs no body).
 */
export function sendEtagFeed(req: Request, res: Response, body: unknown): void {
  const json = JSON.stringify(body);
  const etag = computeEtag(json);
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'no-cache');
  if (etagMatches(req.headers['if-none-match'], etag)) {
    res.status(304).end();
    return;
  }
  res.status(200).type('application/json').send(json);
}
