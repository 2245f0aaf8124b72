export interface OutputOffsets {
  stdout: number;
  stderr: number;
}
export function socketPath(stateDir: string): string;
export function lockName(stateDir: string): string;
export function procStat(pid: number): { state: string; pgrp: number; startTicks: number } | undefined;
export function leaderAlive(pid: number | undefined, startTicks: number | undefined): boolean;
export function sandboxExitCode(dir: string): number | undefined;
export function loadOffsets(dir: string): OutputOffsets;
export function collectOutput(dir: string, offsets: OutputOffsets, final?: boolean): boolean;
