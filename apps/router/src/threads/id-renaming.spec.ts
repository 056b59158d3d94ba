import { renameInJson, StreamIdRenamer } from './id-renaming';

const idOfFirstEvent = (data: string): string | null => {
  const e = JSON.parse(data) as { response?: { id?: string } };
  return e.response?.id ?? null;
};
const renamer = () =>
  new StreamIdRenamer((data) => {
    const id = data === null ? null : idOfFirstEvent(data);
    return id ? [[id, `resp_avr.SEAL.${id}`]] : [];
  });

/** A Responses API stream as an upstream frames it, with a multi-byte character in a delta. */
function stream(eol: string): string {
  const ev = (type: string, data: object) =>
    `event: ${type}${eol}data: ${JSON.stringify({ type, ...data })}${eol}${eol}`;
  const response = { id: 'resp_42', object: 'response', status: 'in_progress' };
  return (
    ev('response.created', { response }) +
    ev('response.output_text.delta', { item_id: 'msg_1', delta: 'Grüße, ' }) +
    `: keep-alive${eol}${eol}` +
    ev('response.output_text.delta', { item_id: 'msg_1', delta: 'resp_42 is my name' }) +
    ev('response.completed', { response: { ...response, status: 'completed', previous: 'resp_42' } })
  );
}

function run(chunks: Buffer[]): { out: Buffer; writes: Buffer[] } {
  const r = renamer();
  const writes = chunks.map((c) => r.push(c));
  writes.push(r.end());
  return { out: Buffer.concat(writes), writes };
}

const expected = (text: string) =>
  Buffer.from(text.replaceAll('"resp_42"', '"resp_avr.SEAL.resp_42"'), 'utf8');

describe(StreamIdRenamer.name, () => {
  it.each(['\n', '\r\n', '\r'])('renames the id everywhere it is quoted, framing %j kept', (eol) => {
    const text = stream(eol);
    const { out } = run([Buffer.from(text, 'utf8')]);
    expect(out.equals(expected(text))).toBe(true);
    expect(out.toString('utf8')).toContain('"delta":"resp_42 is my name"'); // not a quoted id: untouched
  });

  it('gives the same bytes however the stream is cut into chunks, also inside the id or a character', () => {
    const bytes = Buffer.from(stream('\r\n'), 'utf8');
    const want = expected(stream('\r\n'));
    for (let a = 1; a < bytes.length; a += 3)
      for (const b of [a + 1, a + 7, a + 40]) {
        if (b >= bytes.length) continue;
        const { out } = run([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]);
        expect(out.toString('latin1')).toBe(want.toString('latin1'));
      }
  });

  it('passes tokens on as they come once the first event is in', () => {
    const text = stream('\n');
    const events = text.split(/(?<=\n\n)/);
    const r = renamer();
    expect(r.push(Buffer.from(events[0]!.slice(0, 30))).length).toBe(0); // the head is held...
    expect(r.push(Buffer.from(events[0]!.slice(30))).toString()).toContain('resp_avr.SEAL.resp_42'); // ...until complete
    for (const e of events.slice(1))
      expect(r.push(Buffer.from(e)).toString()).toBe(e.replaceAll('"resp_42"', '"resp_avr.SEAL.resp_42"'));
    expect(r.end().length).toBe(0);
  });

  it('passes a stream whose first event names no id on untouched, and a stream cut mid-event too', () => {
    const error =
      'event: error\ndata: {"type":"error","message":"resp_42"}\n\ndata: {"response":{"id":"resp_42"}}\n\n';
    expect(run([Buffer.from(error)]).out.toString()).toBe(error);
    const cut = 'event: response.created\ndata: {"type":"response.created","resp';
    expect(run([Buffer.from(cut)]).out.toString()).toBe(cut);
  });
});

describe('StreamIdRenamer with the id a request continued', () => {
  // A follow-up's stream: the upstream echoes the continued response by its own id.
  const followUp = (eol: string): string => {
    const ev = (type: string, data: object) =>
      `event: ${type}${eol}data: ${JSON.stringify({ type, ...data })}${eol}${eol}`;
    const response = { id: 'resp_2', previous_response_id: 'resp_1', status: 'in_progress' };
    return (
      ev('response.created', { response }) +
      ev('response.output_text.delta', { item_id: 'msg_1', delta: 'là' }) +
      ev('response.completed', { response: { ...response, status: 'completed' } })
    );
  };
  const renames = (data: string | null) => {
    const id = data === null ? null : idOfFirstEvent(data);
    return [...(id ? [[id, `resp_avr.NEW.${id}`] as const] : []), ['resp_1', 'resp_avr.OLD.resp_1'] as const];
  };
  const want = (text: string) =>
    text.replaceAll('"resp_2"', '"resp_avr.NEW.resp_2"').replaceAll('"resp_1"', '"resp_avr.OLD.resp_1"');

  it('renames both ids however the stream is cut', () => {
    const bytes = Buffer.from(followUp('\r\n'), 'utf8');
    const expectedText = Buffer.from(want(followUp('\r\n')), 'utf8').toString('latin1');
    for (let a = 1; a < bytes.length; a += 2) {
      const r = new StreamIdRenamer(renames);
      const out = Buffer.concat([r.push(bytes.subarray(0, a)), r.push(bytes.subarray(a)), r.end()]);
      expect(out.toString('latin1')).toBe(expectedText);
    }
  });

  it('renames the continued id even when the first event names no response of its own', () => {
    const text = 'data: {"type":"error","previous_response_id":"resp_1"}\n\n';
    const r = new StreamIdRenamer(renames);
    expect(Buffer.concat([r.push(Buffer.from(text)), r.end()]).toString()).toBe(want(text));
  });
});

describe(renameInJson.name, () => {
  it('renames the quoted id and keeps the rest byte for byte', () => {
    const body = Buffer.from('{"id":"resp_7","output_text":"ça va resp_7","previous_response_id":"resp_7"}');
    expect(renameInJson(body, [['resp_7', 'resp_avr.S.resp_7']]).toString('utf8')).toBe(
      '{"id":"resp_avr.S.resp_7","output_text":"ça va resp_7","previous_response_id":"resp_avr.S.resp_7"}',
    );
    expect(renameInJson(body, [['resp_8', 'x']])).toBe(body);
    expect(renameInJson(body, [])).toBe(body);
  });

  it('renames several ids in one pass: a new name that holds another old id is not renamed again', () => {
    const body = Buffer.from('{"id":"resp_2","previous_response_id":"resp_1","note":"resp_1 again"}');
    const renames = [
      ['resp_2', 'resp_avr.S2.resp_2'],
      ['resp_1', 'resp_avr.S1.resp_1'],
    ] as const;
    expect(renameInJson(body, renames).toString()).toBe(
      '{"id":"resp_avr.S2.resp_2","previous_response_id":"resp_avr.S1.resp_1","note":"resp_1 again"}',
    );
    // A name that is itself quoted-old-id shaped is left as it is.
    const chained = [
      ['a', '"b"'],
      ['b', 'c'],
    ] as const;
    expect(renameInJson(Buffer.from('["a","b"]'), chained).toString()).toBe('[""b"","c"]');
  });
});
