import { useState, type FormEvent } from 'react';
import { ApiError, get, paths, session } from '../api.ts';

/** The token is checked against the API before it is kept (sessionStorage: this tab only). */
export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    session.signIn(token.trim());
    try {
      await get(paths.projects());
      onSignedIn();
    } catch (err) {
      session.signOut();
      setError(err instanceof ApiError && err.status === 401 ? 'That token was not accepted.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Sign in</h1>
      <p className="muted">
        Use an API token: the admin token printed at first start (also in <code>&lt;data dir&gt;/admin-token</code>) or one made with{' '}
        <code>POST /tokens</code>. It stays in this tab only.
      </p>
      <form onSubmit={submit} className="stack">
        <label htmlFor="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="current-password" required value={token} onChange={(e) => setToken(e.target.value)} aria-describedby={error ? 'token-error' : undefined} aria-invalid={error ? true : undefined} />
        {error && (
          <p id="token-error" role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
