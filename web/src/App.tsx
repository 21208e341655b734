import { Route, Routes } from 'react-router';
import { useNeedsLogin } from './api/auth';
import { useLiveUpdates } from './api/live';
import { Layout } from './components/Layout';
import { LoginForm } from './components/LoginForm';
import { EmptyState } from './components/States';
import { DeadLettersPage } from './pages/dead-letters/DeadLettersPage';
import { OverviewPage } from './pages/overview/OverviewPage';
import { SchedulesPage } from './pages/schedules/SchedulesPage';
import { SessionPage } from './pages/sessions/SessionPage';
import { SessionsPage } from './pages/sessions/SessionsPage';
import { TaskPage } from './pages/tasks/TaskPage';
import { TasksPage } from './pages/tasks/TasksPage';
import { WorkerPage } from './pages/workers/WorkerPage';
import { WorkersPage } from './pages/workers/WorkersPage';

export function App() {
  const needsLogin = useNeedsLogin();
  const live = useLiveUpdates(!needsLogin);
  if (needsLogin) return <LoginForm />;
  return (
    <Layout live={live}>
      <Routes>
        <Route path="/" element={<OverviewPage />} />
        <Route path="/tasks" element={<TasksPage />} />
        <Route path="/tasks/:id" element={<TaskPage />} />
        <Route path="/dead-letters" element={<DeadLettersPage />} />
        <Route path="/sessions" element={<SessionsPage />} />
        <Route path="/sessions/:id" element={<SessionPage />} />
        <Route path="/workers" element={<WorkersPage />} />
        <Route path="/workers/:id" element={<WorkerPage />} />
        <Route path="/schedules" element={<SchedulesPage />} />
        <Route
          path="*"
          element={<EmptyState title="No such page">Pick a page from the menu above.</EmptyState>}
        />
      </Routes>
    </Layout>
  );
}
