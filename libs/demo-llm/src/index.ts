export {
  BEHAVIOURS,
  BehaviourError,
  DEFAULT_BEHAVIOUR,
  applyBehaviour,
  isBehaviourPreset,
  resolveBehaviourUpdate,
  type Behaviour,
  type BehaviourPreset,
  type FullBehaviour,
} from './behaviour';
export { REFUSALS, answerText, estimateTokens } from './answers';
export { decide, type Decision, type Fate } from './determinism';
export {
  startDemoLlm,
  type DemoLlm,
  type DemoLlmOptions,
  type DemoLlmReceived,
  type DemoLlmOutcome,
  type DemoLlmStats,
} from './demo-llm';
