import type { Answer } from '../answers/answer';
import { RequestError } from './endpoint';
import { cosine, embeddings, parseEmbeddingRequest, readEmbeddings } from './embeddings';

const raw = (body: unknown) => Buffer.from(JSON.stringify(body));
const b64 = (xs: number[]) => Buffer.from(new Float32Array(xs).buffer).toString('base64');
const list = (embeds: unknown[]) => ({
  object: 'list',
  data: embeds.map((embedding, index) => ({ object: 'embedding', index, embedding })),
});

describe(parseEmbeddingRequest.name, () => {
  it('counts the inputs', () => {
    expect(parseEmbeddingRequest(raw({ model: 'e', input: 'x' })).inputs).toBe(1);
    expect(parseEmbeddingRequest(raw({ model: 'e', input: ['x', 'y'] })).inputs).toBe(2);
    expect(parseEmbeddingRequest(raw({ model: 'e', input: [1, 2] })).inputs).toBe(1);
    expect(parseEmbeddingRequest(raw({ model: 'e', input: [[1], [2]] })).inputs).toBe(2);
  });

  it.each([
    [{ model: 'e' }, 'input'],
    [{ model: 'e', input: [] }, 'input'],
    [{ model: 'e', input: 'x', encoding_format: 'hex' }, 'encoding_format'],
    [{ model: 'e', input: 'x', stream: true }, 'stream'],
  ])('rejects %j naming %s', (body, param) => {
    try {
      parseEmbeddingRequest(raw(body));
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(RequestError);
      expect((err as RequestError).param).toBe(param);
    }
  });
});

describe(readEmbeddings.name, () => {
  it('reads float arrays and base64 float32 alike', () => {
    const a = readEmbeddings(raw(list([[0.5, -0.25]])));
    const b = readEmbeddings(raw(list([b64([0.5, -0.25])])));
    expect(Array.from(a.vectors![0]!)).toEqual([0.5, -0.25]);
    expect(Array.from(b.vectors![0]!)).toEqual([0.5, -0.25]);
  });

  it('does not take a list with a non-vector for an answer, nor the wrong number of vectors', () => {
    expect(readEmbeddings(raw(list([[1, 'x']]))).malformed).toBe(true);
    const request = parseEmbeddingRequest(raw({ model: 'e', input: ['a', 'b'] }));
    expect(embeddings.readJson(raw(list([[1, 0]])), request).malformed).toBe(true);
  });
});

describe('embedding similarity', () => {
  const answer = (...vs: number[][]): Answer => readEmbeddings(raw(list(vs)));
  it('is the mean cosine of the vectors', () => {
    expect(cosine(new Float32Array([1, 0]), new Float32Array([0, 1]))).toBe(0);
    expect(embeddings.similarity!(answer([1, 0], [0, 1]), answer([1, 0], [1, 0]))).toBeCloseTo(0.5);
    expect(embeddings.similarity!(answer([1, 2, 3]), answer([2, 4, 6]))).toBeCloseTo(1);
  });

  it('is 0 when the shadow answered a different number of vectors', () => {
    expect(embeddings.similarity!(answer([1, 0]), answer([1, 0], [1, 0]))).toBe(0);
  });
});
