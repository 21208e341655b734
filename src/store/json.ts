/** Any JSON value: what payloads, results, progress and worker state hold. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
