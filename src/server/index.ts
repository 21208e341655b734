// `@gafferhq/gaffer/server`: the HTTP API, worker protocol, metrics and dashboard in your own process.
export {
  buildServer,
  DEFAULT_HOST,
  DEFAULT_PORT,
  type GafferServer,
  type ServerOptions,
} from './app.js';
export { isLoopback, type RunningServer, ServeRefusedError, startServer } from './serve.js';
