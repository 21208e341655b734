import { Component, type ErrorInfo, type ReactNode } from 'react';

interface Props {
  /** Changing it (the page's location) clears a caught error: another page may render fine. */
  resetKey: string;
  children: ReactNode;
}

interface State {
  error: Error | null;
  key: string;
}

/**
 * Keeps one page's render error from blanking the whole dashboard: the frame and menu stay, the
 * page says what failed, and moving to another page tries again.
 */
export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, key: this.props.resetKey };

  static getDerivedStateFromError(error: Error): Partial<State> {
    return { error };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey !== state.key ? { error: null, key: props.resetKey } : null;
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error('dashboard page failed to render', error, info.componentStack);
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="card page-error" role="alert" data-testid="page-error">
        <h2>This page could not be shown</h2>
        <p className="muted">{error.message || String(error)}</p>
        <button type="button" className="btn" onClick={() => this.setState({ error: null })}>
          Try again
        </button>
      </div>
    );
  }
}
