/**
 * The one catalogue of sizes (memory, CPU). Northflank's `/v1/plans` and Akkeris' `/sizes` both read it;
 * it includes the names the seed examples use (`nf-compute-20`, `gp1`, `gp1-prod`, `gp2`).
 * Prices are zero: slipway is self-hosted; the fields exist because Northflank's clients expect them.
 */

export interface Plan {
  id: string;
  cpu: number;
  memoryMb: number;
  /** which face named it first; both faces list every plan */
  family: 'northflank' | 'akkeris';
}

export const PLANS: readonly Plan[] = Object.freeze([
  { id: 'nf-compute-10', cpu: 0.1, memoryMb: 256, family: 'northflank' },
  { id: 'nf-compute-20', cpu: 0.2, memoryMb: 512, family: 'northflank' },
  { id: 'nf-compute-50', cpu: 0.5, memoryMb: 1024, family: 'northflank' },
  { id: 'nf-compute-100-1', cpu: 1, memoryMb: 1024, family: 'northflank' },
  { id: 'nf-compute-100-2', cpu: 1, memoryMb: 2048, family: 'northflank' },
  { id: 'nf-compute-100-4', cpu: 1, memoryMb: 4096, family: 'northflank' },
  { id: 'nf-compute-200', cpu: 2, memoryMb: 4096, family: 'northflank' },
  { id: 'nf-compute-200-8', cpu: 2, memoryMb: 8192, family: 'northflank' },
  { id: 'gp1', cpu: 0.25, memoryMb: 256, family: 'akkeris' },
  { id: 'gp1-prod', cpu: 0.25, memoryMb: 256, family: 'akkeris' },
  { id: 'gp2', cpu: 0.5, memoryMb: 512, family: 'akkeris' },
  { id: 'gp2-prod', cpu: 0.5, memoryMb: 512, family: 'akkeris' },
  { id: 'gp3', cpu: 1, memoryMb: 1024, family: 'akkeris' },
  { id: 'gp3-prod', cpu: 1, memoryMb: 1024, family: 'akkeris' },
]);

export function findPlan(id: string): Plan | undefined {
  return PLANS.find((p) => p.id === id);
}
