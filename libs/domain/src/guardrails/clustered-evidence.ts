import type { ArmStats } from './arm-stats';

/**
 * The evidence of a rollout as the guardrails read it: one stratum per routing revision (a constant
 * split, so both arms in a stratum were served at the same time), and inside every arm the counters
 * per cluster of users as well as the arm's totals.
 *
 * Clusters are the router's stickiness buckets (sha1 of the stickiness key mod 100): a user or
 * conversation always lands in the same cluster, whatever arm or step it is in, and the hash is
 * independent of Unleash's assignment to arms. Requests of one user are correlated (a user who asks
 * refusal-prone questions keeps asking them); requests of different clusters are independent. So the
 * variance of any estimate can be measured between clusters (a cluster-robust, or batch-means,
 * variance) instead of assumed from independent requests. Requests without a stickiness key are
 * independent and are spread over the clusters at random.
 */
export const EVIDENCE_CLUSTERS = 100;

/** The counters kept per cluster, in this order (`clusters[g * CLUSTER_FIELD_COUNT + field]`). */
export const CLUSTER_FIELD = {
  requests: 0,
  errors: 1,
  refusals: 2,
  silentFailures: 3,
  feedback: 4,
  thumbsDown: 5,
  tokensN: 6,
  tokensSum: 7,
  costN: 8,
  costSum: 9,
} as const;
export type ClusterField = keyof typeof CLUSTER_FIELD;
export const CLUSTER_FIELDS = Object.keys(CLUSTER_FIELD) as readonly ClusterField[];
export const CLUSTER_FIELD_COUNT = CLUSTER_FIELDS.length;

export interface ArmEvidence {
  /** The arm as a whole: the latency histogram and token moments live here only. */
  readonly totals: ArmStats;
  /** Per-cluster counters, cluster-major, `EVIDENCE_CLUSTERS * CLUSTER_FIELD_COUNT` long. */
  readonly clusters: Float64Array;
  /**
   * Ratings (and thumbs-down among them) of answers served too recently to have had their whole
   * feedback window. They are included in `totals` and `clusters`; the thumbs-down guardrail takes
   * them out again.
   */
  readonly immatureFeedback: number;
  readonly immatureThumbsDown: number;
}

export interface EvidenceStratum {
  /** The routing revision: everything in a stratum was routed under one split. */
  readonly revision: number;
  /** What the candidate arm is: the users the candidate served, or shadow copies of baseline traffic. */
  readonly candidateRole: 'candidate' | 'shadow';
  readonly baseline: ArmEvidence;
  readonly candidate: ArmEvidence;
}

export function emptyClusters(): Float64Array {
  return new Float64Array(EVIDENCE_CLUSTERS * CLUSTER_FIELD_COUNT);
}

/** The cluster of a request: its stickiness bucket, or (unsticky) any stable hash of its id. */
export function clusterOf(stickinessBucket: number | null | undefined, requestId: string): number {
  if (typeof stickinessBucket === 'number' && stickinessBucket >= 0 && stickinessBucket < EVIDENCE_CLUSTERS)
    return stickinessBucket | 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < requestId.length; i++) h = Math.imul(h ^ requestId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % EVIDENCE_CLUSTERS;
}
