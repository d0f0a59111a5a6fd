export interface WebBuildPlan {
  action: 'skip' | 'build' | 'fresh';
  reason: string;
}
export function webBuildPlan(webDir: string, distDir?: string): WebBuildPlan;
