export interface GroupMember {
  pid: number;
  ppid: number;
  comm: string;
}
export function groupMembers(pgid: number): GroupMember[];
export function stopTargets(members: GroupMember[]): GroupMember[];
