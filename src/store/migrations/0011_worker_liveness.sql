-- The liveness a worker reports with each heartbeat (issue 16): its event loop's lag, whether its
-- heartbeats come from a thread of their own, how many attempts it holds. Read with the worker's last
-- heartbeat to say whether it is suspected stuck; written by the heartbeat statement it already pays for.
alter table workers add column liveness jsonb;
