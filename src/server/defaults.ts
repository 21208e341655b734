// The server's defaults, in a module of their own so the CLI can show them in --help without
// loading Fastify (which costs most of a second of CPU on every `gaffer` run).
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 7700;
export const DEFAULT_DATA_DIR = './.gaffer';
