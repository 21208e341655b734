import type { ReactNode } from 'react';
import { NavLink, useLocation } from 'react-router';
import { hasToken, logout } from '../api/auth';
import type { LiveStatus } from '../api/live';
import { useStats } from '../api/queries';
import { ErrorBoundary } from './ErrorBoundary';

const LIVE_TEXT: Record<LiveStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  polling: 'Reconnecting…',
  unavailable: 'Database unavailable',
};

/** The frame of every page: brand, navigation, live indicator. */
export function Layout({ live, children }: { live: LiveStatus; children: ReactNode }) {
  const stats = useStats();
  const location = useLocation();
  const dead = stats.data?.counts.failed ?? 0;
  return (
    <div className="app">
      <header className="topbar">
        <NavLink to="/" className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Gaffer
        </NavLink>
        <nav className="nav" aria-label="Main">
          <NavLink to="/" end>
            Overview
          </NavLink>
          <NavLink to="/tasks">Tasks</NavLink>
          <NavLink to="/dead-letters">
            Dead letters
            {dead > 0 && <span className="nav-count">{dead}</span>}
          </NavLink>
          <NavLink to="/sessions">Sessions</NavLink>
          <NavLink to="/workers">Workers</NavLink>
          <NavLink to="/schedules">Schedules</NavLink>
        </nav>
        <div className="topbar-right">
          <span
            className={`live live-${live}`}
            data-testid="live-status"
            title="Server-sent events from /api/v1/live"
          >
            <span className="live-dot" aria-hidden="true" />
            {LIVE_TEXT[live]}
          </span>
          {hasToken() && (
            <button type="button" className="btn btn-ghost btn-small" onClick={logout}>
              Log out
            </button>
          )}
        </div>
      </header>
      <main className="main">
        <ErrorBoundary resetKey={location.pathname + location.search}>{children}</ErrorBoundary>
      </main>
    </div>
  );
}

/** A page's title row: heading, sub-line and actions. */
export function PageHeader({
  title,
  sub,
  actions,
}: {
  title: ReactNode;
  sub?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {sub && <div className="page-sub">{sub}</div>}
      </div>
      {actions && <div className="actions">{actions}</div>}
    </div>
  );
}
