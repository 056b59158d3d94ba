// The analyzer's public entry point (`@aviary/analyzer`): what another app — the embedded all-in-one
// process — may use. Everything else under src/ is the analyzer's own.
export { startAnalyzer, type RunningAnalyzer } from './analyzer';
