import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { login } from '../api/auth';

/** Shown when the server answers 401: asks for an API token and keeps it for this tab only. */
export function LoginForm() {
  const qc = useQueryClient();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(token.trim());
      await qc.resetQueries();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="login">
      <form className="card login-card" onSubmit={submit}>
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Gaffer
        </div>
        <h1>Sign in</h1>
        <p className="muted">
          This server requires an API token. It is kept in this browser tab only (sessionStorage).
        </p>
        <label className="field">
          <span>API token</span>
          <input
            name="token"
            type="password"
            autoComplete="current-password"
            required
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
        </label>
        {error && (
          <p className="action-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
