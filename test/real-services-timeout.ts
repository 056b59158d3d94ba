// Integration and e2e tests run against real services: starting a control plane on a fresh database
// in a beforeAll takes a few seconds, more on a busy machine, so tests and hooks get 20 s unless they
// say otherwise (jest's default 5 s made them fail with nothing wrong).
jest.setTimeout(20_000);
