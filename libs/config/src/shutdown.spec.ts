import { stopOnSignals } from './shutdown';

/** The signals go to a name no real signal uses, so the test process itself is never at risk. */
const SIGNAL = 'SIGUSR2';

function setup(stop: () => Promise<void>, timeoutMs = 1000) {
  const exits: number[] = [];
  const logs: string[] = [];
  const dispose = stopOnSignals({
    stop,
    timeoutMs,
    signals: [SIGNAL],
    exit: (code) => exits.push(code),
    log: (m) => logs.push(m),
  });
  return { exits, logs, dispose };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('stopOnSignals', () => {
  let dispose: () => void = () => undefined;
  afterEach(() => dispose());

  it('stops once however many times the signal arrives, then exits 0', async () => {
    let release: () => void = () => undefined;
    const stop = jest.fn(() => new Promise<void>((r) => (release = r)));
    const s = setup(stop);
    dispose = s.dispose;
    process.emit(SIGNAL, SIGNAL);
    process.emit(SIGNAL, SIGNAL);
    process.emit(SIGNAL, SIGNAL);
    expect(stop).toHaveBeenCalledTimes(1);
    expect(s.exits).toEqual([]);
    release();
    await tick();
    expect(s.exits).toEqual([0]);
    expect(s.logs).toEqual([`${SIGNAL}: stopping…`]);
  });

  it('says it is still stopping when asked again later, without starting over', () => {
    const stop = jest.fn(() => new Promise<void>(() => undefined));
    const s = setup(stop, 60_000);
    dispose = s.dispose;
    const now = jest.spyOn(Date, 'now');
    now.mockReturnValue(1_000_000);
    process.emit(SIGNAL, SIGNAL);
    now.mockReturnValue(1_005_000);
    process.emit(SIGNAL, SIGNAL);
    now.mockRestore();
    expect(stop).toHaveBeenCalledTimes(1);
    expect(s.logs).toEqual([`${SIGNAL}: stopping…`, `${SIGNAL} again: still stopping, please wait`]);
  });

  it('exits 1 when the shutdown hangs past its timeout', async () => {
    const s = setup(() => new Promise<void>(() => undefined), 50);
    dispose = s.dispose;
    process.emit(SIGNAL, SIGNAL);
    await tick(120);
    expect(s.exits).toEqual([1]);
    expect(s.logs.at(-1)).toBe('shutdown did not finish within 50 ms; exiting');
  });

  it('exits 1 when the shutdown fails', async () => {
    const s = setup(() => Promise.reject(new Error('database lock busy')));
    dispose = s.dispose;
    process.emit(SIGNAL, SIGNAL);
    await tick();
    expect(s.exits).toEqual([1]);
    expect(s.logs.at(-1)).toBe('shutdown failed: database lock busy');
  });
});
