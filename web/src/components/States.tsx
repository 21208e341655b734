import type { ReactNode } from 'react';
import { ApiError } from '../api/client';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <div className="state state-loading" aria-busy="true">
      {what}…
    </div>
  );
}

export function ErrorState({ error, title = 'Something went wrong' }: { error: unknown; title?: string }) {
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <div className="state state-error" role="alert">
      <strong>{notFound ? 'Not found' : title}</strong>
      <p>{error instanceof Error ? error.message : String(error)}</p>
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <strong>{title}</strong>
      {children && <p>{children}</p>}
    </div>
  );
}

/** Shows the error of a failed action under the buttons. */
export function ActionError({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="action-error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </p>
  );
}
