export interface JobItem {
  id: string;
  name: string;
  jobType: 'manual' | 'cron';
  suspended?: boolean;
  description?: string;
}
export interface Job extends JobItem {
  schedule?: string;
  concurrencyPolicy?: string;
  command?: string;
  billing: { deploymentPlan: string };
  deployment: { internal?: { id?: string }; external?: { imagePath: string } };
  runtimeEnvironmentKeys: string[];
  backoffLimit: number;
  activeDeadlineSeconds: number | null;
}
export interface Run {
  id: string;
  number: number;
  status: string;
  runStatus: string;
  exitCode: number | null;
  attempts: number;
  message: string | null;
  scheduledFor: string | null;
  command?: string;
  createdAt: string;
  startedAt?: string;
  concludedAt?: string;
  concluded: boolean;
}
const e = encodeURIComponent;
export const jobPaths = {
  jobs: (p: string) => `/v1/projects/${e(p)}/jobs`,
  job: (p: string, j: string) => `/v1/projects/${e(p)}/jobs/${e(j)}`,
  runs: (p: string, j: string) => `/v1/projects/${e(p)}/jobs/${e(j)}/runs`,
  runLogs: (p: string, j: string, r: string) => `/projects/${e(p)}/jobs/${e(j)}/runs/${e(r)}/logs?tail=500`,
};
