import type { Json } from '../api/types';
import { progressFraction, progressLabel } from './format';

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

export function StaleBadge({ stale }: { stale: boolean }) {
  return stale ? (
    <span className="badge badge-stale" title="No heartbeat within the stale limit, replaced, or stopped">
      stale
    </span>
  ) : (
    <span className="badge badge-live">live</span>
  );
}

/** A progress bar with its label; a dash when nothing was reported. */
export function Progress({ value, fraction }: { value?: Json | null; fraction?: number | null }) {
  const f = fraction ?? progressFraction(value ?? null);
  if (f === null && (value === null || value === undefined)) return <span className="muted">—</span>;
  const label =
    fraction !== undefined && fraction !== null ? `${Math.round(fraction * 100)}%` : progressLabel(value);
  return (
    <div className="progress" title={label} data-testid="progress">
      {f !== null && (
        <div
          className="progress-bar"
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(f * 100)}
        >
          <div className="progress-fill" style={{ width: `${f * 100}%` }} />
        </div>
      )}
      <span className="progress-label">{label}</span>
    </div>
  );
}
