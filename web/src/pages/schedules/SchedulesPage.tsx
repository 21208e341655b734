import { Link } from 'react-router';
import { usePauseSchedule, useResumeSchedule } from '../../api/actions';
import { useSchedules } from '../../api/queries';
import type { Schedule } from '../../api/types';
import { Ago, useNow } from '../../components/Ago';
import { formatDuration, formatTime } from '../../components/format';
import { PageHeader } from '../../components/Layout';
import { ActionError, EmptyState, ErrorState, Loading } from '../../components/States';

function timing(s: Schedule): string {
  if (s.cron) return s.timezone === 'UTC' ? `cron ${s.cron}` : `cron ${s.cron} (${s.timezone})`;
  const ms = s.everyMs ?? 0;
  return ms % 1000 === 0 ? `every ${formatDuration(ms)}` : `every ${ms} ms`;
}

/** "in 42s": how long until a run, from the clock that ticks for the whole page. */
function until(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  return ms <= 0 ? 'due now' : `in ${formatDuration(ms)}`;
}

function Row({ s, now }: { s: Schedule; now: number }) {
  const pause = usePauseSchedule();
  const resume = useResumeSchedule();
  const busy = pause.isPending || resume.isPending;
  return (
    <tr data-schedule={s.name} className={s.paused ? 'row-stale' : undefined}>
      <td className="mono">{s.name}</td>
      <td className="small mono">{timing(s)}</td>
      <td>
        <Link to={`/tasks?type=${encodeURIComponent(s.type)}`}>{s.type}</Link>
      </td>
      <td>
        <span className={`badge ${s.paused ? 'badge-stale' : 'badge-live'}`} data-testid="schedule-state">
          {s.paused ? 'paused' : 'active'}
        </span>
      </td>
      <td data-testid="next-run">
        {s.nextRunAt && !s.paused ? (
          <>
            <span title={s.nextRunAt}>{formatTime(s.nextRunAt)}</span>
            <div className="muted small">{until(s.nextRunAt, now)}</div>
          </>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td className="small" data-testid="upcoming">
        {s.upcoming.slice(1, 4).map((u) => (
          <div key={u} title={u}>
            {formatTime(u)}
          </div>
        ))}
      </td>
      <td>{s.lastTickAt ? <Ago at={s.lastTickAt} /> : <span className="muted">never</span>}</td>
      <td className="num">{s.runs}</td>
      <td className="num">{s.skipped}</td>
      <td className="row-actions">
        {s.paused ? (
          <button
            type="button"
            className="btn btn-small"
            disabled={busy}
            onClick={() => resume.mutate(s.name)}
          >
            Resume
          </button>
        ) : (
          <button
            type="button"
            className="btn btn-small"
            disabled={busy}
            onClick={() => pause.mutate(s.name)}
          >
            Pause
          </button>
        )}
        <ActionError error={pause.error ?? resume.error} />
      </td>
    </tr>
  );
}

export function SchedulesPage() {
  const q = useSchedules();
  const now = useNow();
  const items = q.data ?? [];
  const paused = items.filter((s) => s.paused).length;
  return (
    <>
      <PageHeader
        title="Schedules"
        sub={q.data ? `${items.length - paused} active, ${paused} paused` : undefined}
      />
      <section className="card">
        {q.isPending ? (
          <Loading what="Loading schedules" />
        ) : q.isError ? (
          <ErrorState error={q.error} />
        ) : items.length === 0 ? (
          <EmptyState title="No schedules">
            Create one with <code>gaffer schedules set</code>, <code>client.schedules.upsert</code> or{' '}
            <code>PUT /api/v1/schedules/:name</code>.
          </EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="schedule-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>When</th>
                  <th>Task type</th>
                  <th>State</th>
                  <th>Next run</th>
                  <th>Then</th>
                  <th>Last tick</th>
                  <th className="num">Runs</th>
                  <th className="num">Skipped</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {items.map((s) => (
                  <Row key={s.name} s={s} now={now} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
