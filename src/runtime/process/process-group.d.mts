export interface GroupMember {
  pid: number;
  ppid: number;
  comm: string;
}
export function groupMembers(pgid: number): GroupMember[];
export function stopTargets(members: GroupMember[]): GroupMember[];
export interface ProcEntry {
  ppid: number;
  pgrp: number;
  ticks: number;
  rssPages: number;
}
export function procTable(fresh?: boolean): { at: number; procs: Map<number, ProcEntry> };
