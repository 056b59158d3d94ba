import { portInUseMessage, type OwnPort } from './port-in-use';

const ports: OwnPort[] = [
  { port: 8080, what: 'the control plane', env: 'AVIARY_CONTROL_PLANE_PORT' },
  { port: 8081, what: 'the router', env: 'AVIARY_ROUTER_PORT' },
  { port: 8091, what: 'the demo baseline model server', env: 'AVIARY_DEMO_BASELINE_PORT' },
];
const inUse = (port: number) =>
  Object.assign(new Error(`listen EADDRINUSE: address already in use 127.0.0.1:${port}`), {
    code: 'EADDRINUSE',
    port,
    address: '127.0.0.1',
  });

describe('portInUseMessage', () => {
  it('names the part whose port is taken and the variable that moves it', () => {
    const message = portInUseMessage(inUse(8091), ports) ?? '';
    expect(message).toContain(
      'port 8091 on 127.0.0.1 is in use (the demo baseline model server; AVIARY_DEMO_BASELINE_PORT)',
    );
    expect(message).toContain(
      'AVIARY_CONTROL_PLANE_PORT=9090 AVIARY_ROUTER_PORT=9091 AVIARY_DEMO_BASELINE_PORT=9092 AVIARY_DATA_DIR=.aviary-2 npm start',
    );
  });

  it('still says which port for one that is not its own', () => {
    expect(portInUseMessage(inUse(5432), ports)).toMatch(/^port 5432 on 127\.0\.0\.1 is in use\.\n/);
  });

  it.each([
    ['another error', new Error('boom')],
    ['a port-less EADDRINUSE', Object.assign(new Error('x'), { code: 'EADDRINUSE' })],
    ['not an error', 'EADDRINUSE'],
    ['null', null],
  ])('leaves %s to the generic message', (_what, err) => {
    expect(portInUseMessage(err, ports)).toBeNull();
  });
});
