-- Gaffer schema, version 15: release_dependents keeps its own join plans. Called from the trigger under
-- complete_tasks, it inherited that function's planner settings (no nested loops, no merge joins), so its
-- joins of a few finished tasks with task_deps and task_waits became hash joins that read both tables
-- whole on every completion of a task with dependents: the dag bench slowed as it went (1.8 ms of database
-- CPU per task at 1,000 tasks, 2.9 ms at 4,000). Index lookups by seq are what these joins need.
alter function release_dependents(bigint[], text[], bigint[])
  set enable_nestloop = on set enable_hashjoin = off set enable_mergejoin = off set enable_seqscan = off;
alter function begin_waits(json)
  set enable_nestloop = on set enable_hashjoin = off set enable_mergejoin = off set enable_seqscan = off;
