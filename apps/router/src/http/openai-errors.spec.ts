import { clientErrorKind } from '@aviary/http';
import { openAiClientError } from './openai-errors';

describe('openAiClientError', () => {
  it('answers in OpenAI’s error shape with a request id of its own', () => {
    const a = openAiClientError(clientErrorKind('HPE_HEADER_OVERFLOW'));
    expect(a.contentType).toBe('application/json');
    expect(a.headers?.['x-aviary-request-id']).toMatch(/^avy-[\w-]{12}$/);
    expect(JSON.parse(a.body)).toEqual({
      error: {
        message: expect.stringContaining('headers') as unknown,
        type: 'invalid_request_error',
        param: null,
        code: 'request_headers_too_large',
      },
    });
    expect(openAiClientError(clientErrorKind('HPE_HEADER_OVERFLOW')).headers).not.toEqual(a.headers);
  });

  it('calls a request that did not arrive in time a timeout', () => {
    const a = openAiClientError(clientErrorKind('ERR_HTTP_REQUEST_TIMEOUT'));
    expect(JSON.parse(a.body)).toMatchObject({ error: { type: 'timeout_error', code: 'request_timeout' } });
  });
});
