import type { ReactNode } from 'react';
import { Link } from 'react-router';

interface Props {
  label: string;
  value: ReactNode;
  hint?: ReactNode;
  to?: string;
  tone?: 'ok' | 'warn' | 'bad' | 'info';
  testId?: string;
}

/** One number with its label, optionally linking to the list behind it. */
export function StatCard({ label, value, hint, to, tone, testId }: Props) {
  const body = (
    <>
      <span className="stat-label">{label}</span>
      <span className="stat-value" data-testid={testId}>
        {value}
      </span>
      {hint && <span className="stat-hint">{hint}</span>}
    </>
  );
  const cls = `stat${tone ? ` stat-${tone}` : ''}`;
  return to ? (
    <Link className={cls} to={to}>
      {body}
    </Link>
  ) : (
    <div className={cls}>{body}</div>
  );
}
