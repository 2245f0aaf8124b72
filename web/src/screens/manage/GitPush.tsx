/** The exact commands that push code to a repository slipway hosts (the API token is the password). */
export function hostedRepoUrl(project: string, service: string): string {
  return `${location.origin}/git/${project}/${service}.git`;
}

export function isHosted(url: string | undefined, project: string, service: string): boolean {
  if (!url) return false;
  try {
    return new URL(url).pathname === `/git/${project}/${service}.git`;
  } catch {
    return false;
  }
}

export function GitPush({ project, service, branch = 'main' }: { project: string; service: string; branch?: string }) {
  const url = new URL(hostedRepoUrl(project, service));
  const withUser = `${url.protocol}//git@${url.host}${url.pathname}`;
  const commands = [`git remote add slipway ${withUser}`, `git push slipway ${branch}`].join('\n');
  const oneLine = `git push ${url.protocol}//git:$SLIPWAY_TOKEN@${url.host}${url.pathname} ${branch}`;
  return (
    <div className="git-push">
      <p>
        From your repository, add slipway as a remote and push the <code>{branch}</code> branch. When git asks for a password, give an API
        token that may write to this project. Each push builds the commit and, with continuous deployment on, rolls it out.
      </p>
      <pre className="commands" aria-label="git push commands">
        {commands}
      </pre>
      <p className="muted">Or in one line, with the token in an environment variable:</p>
      <pre className="commands" aria-label="git push in one line">
        {oneLine}
      </pre>
    </div>
  );
}
