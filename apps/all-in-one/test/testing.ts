/** What other tests use of the all-in-one's (`@aviary/all-in-one/testing`): `npm start`'s process. */
export { startEmbedded, stop, type Started } from './npm-start';
