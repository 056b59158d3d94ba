/** What other apps' tests use of the CLI's (`@aviary/cli/testing`): the built `aviary` run as a process. */
export { aviary, run, type Run } from './run-aviary';
